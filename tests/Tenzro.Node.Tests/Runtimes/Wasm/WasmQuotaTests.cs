using System.Net;
using System.Text.Json.Nodes;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Runtimes.Wasm;

/// <summary>The CPU-seconds quota charges what a compute task's thread used, not its reserved cores × its run time.</summary>
[Trait("Suite", "wasm")]
public sealed class WasmQuotaTests
{
    [Fact]
    public async Task SleepingTaskWithAWholeCore_IsChargedTheCpuItUsed()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["QUOTA_LOOPBACK"] = "true", ["QUOTA_CPU_SECONDS_PER_HOUR"] = "1" });
        var sleep = new JsonObject
        {
            ["type"] = "compute",
            ["requirements"] = new JsonObject { ["cpu"] = 1, ["memoryMB"] = 16 },
            ["config"] = new JsonObject { ["wasiClock"] = true },
            ["data"] = WasmSandbox.Call(WasmModules.Sleep, "sleep", 1_500_000_000L),
        };

        // 1.5 s asleep on one reserved core: charged as cores × time, it would use up the 1 CPU-second of the hour.
        var (status, submitted) = await node.Client.SubmitAsync(sleep.ToJsonString());
        Assert.Equal(HttpStatusCode.Accepted, status);
        var slept = await node.Client.WaitFinalAsync(submitted!["taskId"]!.GetValue<string>());
        var (next, body) = await node.Client.SubmitAsync("""{"type":"process","data":{"input":[1,2],"config":{"op":"sum"}}}""");

        Assert.Equal("completed", slept["state"]!.GetValue<string>());
        Assert.True(next == HttpStatusCode.Accepted, $"{(int)next}: {body?.ToJsonString()}");
    }
}
