using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Optimization;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Tests.Support;

using Tenzro.Node.Tests.Runtimes.Wasm;

namespace Tenzro.Node.Tests.Optimization;

[Trait("Suite", "optimization")]
public sealed class OptimizationApiTests
{
    private static JsonObject Choice(JsonObject profile, string name) =>
        profile["optimizations"]!.AsArray().Select(o => o!.AsObject()).Single(o => o["name"]!.GetValue<string>() == name);

    [Fact]
    public async Task Profile_MaxConcurrentTasksLeftAuto_ListsTheDerivedSlotsWithTheirInputs()
    {
        await using var node = await TestNode.StartAsync();

        var profile = await node.Client.GetJsonAsync("/api/hardware/profile");
        var slots = Choice(profile, "MAX_CONCURRENT_TASKS");
        var limits = await node.Client.GetJsonAsync("/api/resources/limits");

        Assert.True(slots["value"]!.GetValue<int>() >= 1);
        Assert.Contains("cores allowed", slots["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("MAX_CONCURRENT_TASKS", slots["setting"]!.GetValue<string>());
        Assert.Equal("auto", limits["settings"]!["maxConcurrentTasks"]!.GetValue<string>());
        Assert.True(Choice(profile, "ONNX_SESSION_CACHE_MB")["value"]!.GetValue<long>() >= 64);
        var cuda = profile["gpuCompute"]?["available"]?.GetValue<bool>() == true;
        Assert.Equal(cuda, Choice(profile, "ONNX_EXECUTION_PROVIDER")["value"]!.GetValue<string>().StartsWith("CUDA", StringComparison.Ordinal));
        Assert.Contains("wasm-cache", Choice(profile, "wasmModuleCache")["value"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("GC_MODE", Choice(profile, "dotnetGc")["setting"]!.GetValue<string>());
        Assert.InRange(Choice(profile, "SQLITE_CACHE_MB")["value"]!.GetValue<long>(), SqliteTuning.MinCacheMB, SqliteTuning.MaxCacheMB);
    }

    [Fact]
    public async Task Profile_MaxConcurrentTasksSet_ListsTheSettingAsTheReason()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["MAX_CONCURRENT_TASKS"] = "3" });

        var slots = Choice(await node.Client.GetJsonAsync("/api/hardware/profile"), "MAX_CONCURRENT_TASKS");

        Assert.Equal(3, slots["value"]!.GetValue<int>());
        Assert.Equal("MAX_CONCURRENT_TASKS is set", slots["reason"]!.GetValue<string>());
    }

    private const string Spin = "(module (func (export \"run\") (param i32) (result i32) (local i32) (loop local.get 1 i32.const 1 i32.add local.tee 1 local.get 0 i32.lt_u br_if 0) local.get 1))";

    private static string SpinTask(int count, int timeoutSeconds = 60) =>
        new JsonObject
        {
            ["type"] = "compute",
            ["timeout"] = timeoutSeconds,
            ["data"] = new JsonObject { ["wat"] = Spin, ["entry"] = "run", ["args"] = new JsonArray(count) },
        }.ToJsonString();

    [Fact]
    public async Task Status_AfterRunsOfOneModule_CarriesAnEstimateFromHistory()
    {
        await using var node = await TestNode.StartAsync();

        var first = await node.Client.SubmitAsync(SpinTask(1000), "?wait=10s");
        var second = await node.Client.SubmitAsync(SpinTask(1000), "?wait=10s");
        var firstStatus = await node.Client.GetJsonAsync($"/api/tasks/{first.Body!["taskId"]}");
        var status = await node.Client.GetJsonAsync($"/api/tasks/{second.Body!["taskId"]}");

        Assert.Equal("completed", first.Body["state"]!.GetValue<string>());
        Assert.Null(firstStatus["estimate"]); // no benchmarks on a test node and no run yet: nothing to go by
        var estimate = status["estimate"]!;
        Assert.Equal("history", estimate["basis"]!.GetValue<string>());
        Assert.True(estimate["durationMs"]!.GetValue<double>() > 0);
        Assert.True(estimate["memoryMB"]!.GetValue<long>() >= 1);
    }

    [Fact]
    public async Task Submit_HistoryFarAboveTheTimeout_Is422WithTheEstimate()
    {
        var directory = TestNode.NewDirectory();
        await using (var database = new NodeDatabase(Path.Combine(directory, "node.db")))
        {
            database.Migrate(Migrations.All);
            // Five runs of run(1000) took ten minutes each: the module's history and that call's.
            var key = "wasm:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Spin)));
            using var sandbox = new WasmSandbox();
            var call = sandbox.Runtime.DescribeCost(WasmSandbox.Task(JsonNode.Parse(SpinTask(1000))!["data"]!.DeepClone().AsObject()));
            Assert.Equal(key, call.Key);
            new CostHistoryStore(database).Save(
                [new CostHistory(key, 5, null, Math.Log(600_000), 2, DateTimeOffset.UtcNow), new CostHistory(call.CallKey!, 5, null, Math.Log(600_000), 2, DateTimeOffset.UtcNow)],
                []);
        }

        await using var node = await TestNode.StartAsync(dataDirectory: directory);

        var (status, body) = await node.Client.SubmitAsync(SpinTask(1000, timeoutSeconds: 60));
        var longer = await node.Client.SubmitAsync(SpinTask(1000, timeoutSeconds: 900));
        var otherCall = await node.Client.SubmitAsync(SpinTask(1, timeoutSeconds: 60), "?wait=10s");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        // run(1) is another call: the module's history gives its first estimate, but never refuses it.
        Assert.Equal("completed", otherCall.Body!["state"]!.GetValue<string>());
        Assert.Contains("estimated to run 600000 ms", body!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.NotNull(body["errors"]!["timeout"]);
        Assert.Equal(HttpStatusCode.Accepted, longer.Status);
        var accepted = await node.Client.GetJsonAsync($"/api/tasks/{longer.Body!["taskId"]}");
        Assert.Equal(600_000, accepted["estimate"]!["durationMs"]!.GetValue<double>(), precision: 0);
    }
}
