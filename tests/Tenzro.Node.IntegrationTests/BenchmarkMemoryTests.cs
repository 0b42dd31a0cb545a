using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests;

/// <summary>The hardware benchmarks at start (BENCHMARK_ON_START, on by default) leave no memory behind them.</summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class BenchmarkMemoryTests
{
    [Fact]
    public async Task Start_BenchmarksOnStart_TheMemoryCopysBuffersAreGivenBackOnceMeasured()
    {
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string> { ["BENCHMARK_ON_START"] = "true" });
        var deadline = DateTime.UtcNow.AddSeconds(60);
        string? state = null;
        while (DateTime.UtcNow < deadline && state != "measured")
        {
            var profile = JsonNode.Parse(await node.Client.GetStringAsync("/api/hardware/profile"))!;
            state = profile["benchmarkRun"]!["state"]!.GetValue<string>();
            await Task.Delay(100);
        }

        // The memory copy moves two 64 MB arrays; held on after the run, they would stay in the node's memory for good.
        var resident = NodeProcess.StatusKB(node.Pid, "VmRSS:") / 1024;

        Assert.Equal("measured", state);
        Assert.True(resident < 190, $"the node holds {resident} MB after its start-up benchmarks");
    }
}
