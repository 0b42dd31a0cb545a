using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Runtimes.Onnx;
using Tenzro.Node.Tests.Runtimes.Onnx;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Optimization;

/// <summary>
/// ONNX_MEMORY_ARENA: ONNX Runtime's CPU memory arena in workers, each run keeping its buffers for the next only while the
/// memory available at that run allows it.
/// </summary>
[Trait("Suite", "optimization")]
public sealed class OnnxMemoryArenaTests : IDisposable
{
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("tenzro-onnx-arena-").FullName;

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);

    private OnnxTuning Tune(HardwareProfile profile, string setting = "auto", bool workers = true, ResourceOptions? resources = null, Func<long?>? availableNowMB = null)
    {
        var ledger = new ResourceLedger(SystemCapacity.Allowed(resources ?? new ResourceOptions(), new StorageOptions { DataDirectory = _dataDirectory }, profile), TimeProvider.System);
        return new OnnxTuning(new TaskOptions { OnnxMemoryArena = setting, Workers = workers }, ledger, profile, availableNowMB: availableNowMB);
    }

    private static (string Value, string Reason, string? Setting) Choice(OnnxTuning tuning)
    {
        var choice = tuning.Choices().Single(c => c.Name == "ONNX_MEMORY_ARENA");
        return (choice.Value!.GetValue<string>(), choice.Reason, choice.Setting);
    }

    [Fact]
    public void Auto_TwoCoresEightGigabytes_RunsGiveTheirBuffersBack_TheAvailableMemoryDoesNotCoverTheReservableMemory()
    {
        // 4096 MB available; 6553 MB may be reserved over 4 run slots: 1639 MB a slot and 204 MB of session cache.
        var tuning = Tune(MachineProfiles.TwoCores());

        var (value, reason, setting) = Choice(tuning);

        Assert.True(tuning.MemoryArena); // sessions in workers load with the arena; each run decides whether it keeps its buffers
        Assert.True(tuning.ArenaPerRun);
        Assert.False(tuning.KeepArenaNow());
        Assert.Equal("off", value);
        Assert.Equal("ONNX_MEMORY_ARENA", setting);
        Assert.StartsWith("decided at each run: now 4096 MB available < 6553 MB the network may reserve + 1843 MB one worker may use", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_TheMemoryAvailableFallsAndRises_EachRunDecidesFromTheFigureThen()
    {
        // 256 GB with MAX_MEMORY_GB=64: 65536 + 544 MB are needed to keep a run's buffers.
        long? available = 131_072;
        var tuning = Tune(MachineProfiles.SixtyFourCores(gpu: false), resources: new ResourceOptions { MaxMemoryGb = 64 }, availableNowMB: () => available);

        var roomy = (tuning.KeepArenaNow(), Choice(tuning).Value);
        available = 66_079;
        var short1 = (tuning.KeepArenaNow(), Choice(tuning).Value, Choice(tuning).Reason);
        available = 66_080;
        var justEnough = tuning.KeepArenaNow();
        available = null; // no sample yet: the figure of the profile stands in (131072 MB)
        var unsampled = tuning.KeepArenaNow();

        Assert.Equal((true, "on"), roomy);
        Assert.Equal((false, "off"), (short1.Item1, short1.Item2));
        Assert.StartsWith("decided at each run: now 66079 MB available < 65536 MB the network may reserve + 544 MB", short1.Item3, StringComparison.Ordinal);
        Assert.True(justEnough);
        Assert.True(unsampled);
    }

    [Fact]
    public void Auto_LargeMachineLendingAQuarterOfItsMemory_IsOnInWorkers_AndOffInTheNodesProcess()
    {
        // 256 GB with MAX_MEMORY_GB=64: 131072 MB available covers 65536 MB + 512 MB a slot (128 slots) + 32 MB of cache.
        var resources = new ResourceOptions { MaxMemoryGb = 64 };

        var inWorkers = Tune(MachineProfiles.SixtyFourCores(gpu: false), resources: resources);
        var inProcess = Tune(MachineProfiles.SixtyFourCores(gpu: false), workers: false, resources: resources);

        Assert.True(inWorkers.MemoryArena);
        Assert.True(inWorkers.KeepArenaNow());
        Assert.Equal("on", Choice(inWorkers).Value);
        Assert.StartsWith("decided at each run: now 131072 MB available ≥ 65536 MB the network may reserve + 544 MB one worker may use", Choice(inWorkers).Reason, StringComparison.Ordinal);
        Assert.False(inProcess.MemoryArena);
        Assert.False(inProcess.ArenaPerRun);
        Assert.Equal("off", Choice(inProcess).Value);
        Assert.Contains("TASK_WORKERS=false", Choice(inProcess).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_LargeMachineLendingItsDefaultShare_RunsGiveTheirBuffersBack()
    {
        // 256 GB usable, half available: the 80 % the network may reserve is more than is available.
        Assert.False(Tune(MachineProfiles.SixtyFourCores(gpu: true)).KeepArenaNow());
        Assert.False(Tune(MachineProfiles.CgroupLimited()).KeepArenaNow());
    }

    [Theory]
    [InlineData(10_128, true)]
    [InlineData(10_127, false)]
    public void Rule_AvailableMemoryAtTheThreshold_KeepsTheBuffers(long availableMB, bool on)
    {
        // 8000 MB reservable over 4 slots is 2000 MB a slot; 512 MB of session cache over 4 slots is 128 MB: 8000 + 2128.
        var (result, reason) = OnnxTuning.KeepArenaRule(availableMB, reservableMB: 8000, slots: 4, sessionCacheMB: 512);

        Assert.Equal(on, result);
        Assert.Contains("= 10128 MB", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Setting_OnOrOff_WinsOverTheRule_WithTheSettingAsTheReason()
    {
        var forcedOn = Tune(MachineProfiles.TwoCores(), setting: "on", workers: false);
        var forcedOff = Tune(MachineProfiles.SixtyFourCores(gpu: false), setting: "off", resources: new ResourceOptions { MaxMemoryGb = 64 });

        Assert.True(forcedOn.MemoryArena);
        Assert.True(forcedOn.KeepArenaNow());
        Assert.Equal("on", Choice(forcedOn).Value);
        Assert.StartsWith("ONNX_MEMORY_ARENA is set", Choice(forcedOn).Reason, StringComparison.Ordinal);
        Assert.False(forcedOff.MemoryArena);
        Assert.False(forcedOff.ArenaPerRun);
        Assert.Equal(("off", "ONNX_MEMORY_ARENA is set"), (Choice(forcedOff).Value, Choice(forcedOff).Reason));
    }

    [Fact]
    public void Setting_BadValue_NamesTheKeyAndTheValuesExpected()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new KeyValuePair<string, string?>("ONNX_MEMORY_ARENA", "sometimes")]).Build();

        var error = Assert.Throws<ConfigurationException>(() => NodeSettings.Load(configuration, "/base"));

        var line = Assert.Single(error.Errors);
        Assert.Equal("ONNX_MEMORY_ARENA", line.Key);
        Assert.Contains("one of auto, on, off", line.Expected, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Profile_ListsTheArenaChoice_WithItsFiguresAndSetting()
    {
        await using var node = await TestNode.StartAsync();

        var profile = await node.Client.GetJsonAsync("/api/hardware/profile");
        var choice = profile["optimizations"]!.AsArray().Select(o => o!.AsObject()).Single(o => o["name"]!.GetValue<string>() == "ONNX_MEMORY_ARENA");

        Assert.Contains(choice["value"]!.GetValue<string>(), new[] { "on", "off" });
        Assert.Contains("MB available", choice["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("ONNX_MEMORY_ARENA", choice["setting"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("on", 1)]
    [InlineData("auto", 1)]
    [InlineData("off", 0)]
    public async Task Inference_TheWorkerLoadsItsSessionWithTheArena_OnlyWhereTheNodeChoseIt(string setting, long arenaLoads)
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["ONNX_MEMORY_ARENA"] = setting });
        var model = await node.Client.UploadAsync(ModelApi.CommittedModel("linear.onnx"));

        var result = await node.Client.RunAsync(ModelApi.InferenceTask(model, new JsonObject { ["x"] = ModelApi.FloatTensor([1, 4], 1, 2, 3, 4) }));
        var runtime = (await node.Client.GetJsonAsync("/api/models"))["runtime"]!;

        Assert.Equal("completed", result["state"]!.GetValue<string>());
        Assert.NotNull(runtime["workers"]); // the run was in a worker, which reported its own loads
        Assert.Equal(1, runtime["sessionCache"]!["loads"]!.GetValue<long>());
        Assert.Equal(arenaLoads, runtime["sessionCache"]!["arenaLoads"]!.GetValue<long>());
    }

    /// <summary>c = ConstantOfShape(n) (float32 zeros, n an int64 [1]), y = ReduceSum(c): n × 4 bytes of buffers for one number.</summary>
    private static readonly byte[] Fill = OnnxModelWriter.Write(new OnnxGraph(
        "fill",
        [new OnnxNode("ConstantOfShape", ["n"], ["c"], "fill"), new OnnxNode("ReduceSum", ["c"], ["y"], "sum")],
        [],
        [new OnnxValueInfo("n", OnnxDataType.Int64, [OnnxDim.Fixed(1)])],
        [new OnnxValueInfo("y", OnnxDataType.Float, [OnnxDim.Fixed(1)])]));

    [Fact]
    public async Task Inference_ArenaOn_ATaskWhoseBuffersFitItsReservation_Completes()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["ONNX_MEMORY_ARENA"] = "on" });
        var model = await node.Client.UploadAsync(Fill);
        JsonObject Task(long n) => new()
        {
            ["type"] = "inference",
            ["requirements"] = new JsonObject { ["cpu"] = 1, ["memoryMB"] = 80 },
            ["data"] = new JsonObject { ["model"] = model, ["inputs"] = new JsonObject { ["n"] = ModelApi.Tensor("int64", [1], new JsonArray(n)) } },
        };

        // 1 MB first (the arena's first region), then 68 MB under a limit of 80 + 16 MB: an arena that doubled its
        // regions would map 128 MB, over the limit where workers hold themselves with RLIMIT_DATA (which counts what is
        // mapped; a memory group counts only the pages touched).
        var small = await node.Client.RunAsync(Task(250_000));
        var large = await node.Client.RunAsync(Task(17_000_000));

        Assert.Equal("completed", small["state"]!.GetValue<string>());
        Assert.True(large["state"]!.GetValue<string>() == "completed", large.ToJsonString());
        Assert.Equal(0, ModelApi.Floats(large["result"]!["outputs"]!["y"]).Single());
    }

    [Fact]
    public async Task Inference_PeakMeasuredInTheWorker_IsTheMemoryOfTheNextEstimate()
    {
        // ConstantOfShape writes 17,000,000 floats (68 MB) that ReduceSum reads: the worker's resident peak rises by about
        // that much over what it held at rest, under a reservation of 200 MB.
        await using var node = await TestNode.StartAsync();
        var model = await node.Client.UploadAsync(Fill);
        var task = new JsonObject
        {
            ["type"] = "inference",
            ["requirements"] = new JsonObject { ["cpu"] = 1, ["memoryMB"] = 200 },
            ["data"] = new JsonObject { ["model"] = model, ["inputs"] = new JsonObject { ["n"] = ModelApi.Tensor("int64", [1], new JsonArray(17_000_000)) } },
        };

        var first = await node.Client.RunAsync(task.DeepClone().AsObject());
        var (_, second) = await node.Client.SubmitAsync(task.DeepClone().AsObject().ToJsonString(), "?wait=60s");
        var estimate = (await node.Client.GetJsonAsync($"/api/tasks/{second!["taskId"]}"))["estimate"]!;

        Assert.Equal(0, ModelApi.Floats(first["result"]!["outputs"]!["y"]).Single());
        Assert.Equal("history", estimate["basis"]!.GetValue<string>());
        Assert.InRange(estimate["memoryMB"]!.GetValue<long>(), 60, 150); // measured, not the 200 MB reserved
    }

    [Fact]
    public async Task Inference_Auto_ARunWhileMemoryIsShort_GivesItsBuffersBack_AndARunWithRoom_KeepsThem()
    {
        // MAX_MEMORY_GB=2: a run keeps its buffers where at least 2048 MB + one worker's share are available.
        var usage = new FixedUsage { MemoryUsedPercent = 99 }; // 1 GiB of 100 available
        await using var node = await TestNode.StartAsync(
            new Dictionary<string, string?> { ["ONNX_MEMORY_ARENA"] = "auto", ["MAX_MEMORY_GB"] = "2", ["CRITICAL_MEMORY_PERCENT"] = "100" },
            configure: builder => builder.Services.AddSingleton<IUsageSource>(usage));
        node.Service<ResourceSampler>().SampleNow();
        var model = await node.Client.UploadAsync(Fill);
        var task = new JsonObject
        {
            ["type"] = "inference",
            ["requirements"] = new JsonObject { ["cpu"] = 1, ["memoryMB"] = 100 },
            ["data"] = new JsonObject { ["model"] = model, ["inputs"] = new JsonObject { ["n"] = ModelApi.Tensor("int64", [1], new JsonArray(17_000_000)) } },
        };

        // 68 MB of zeros written in one buffer of the run, given back as the run ends; then, with 90 GiB available, kept.
        var short1 = await node.Client.RunAsync(task.DeepClone().AsObject());
        var afterRelease = (await node.Client.GetJsonAsync("/api/models"))["runtime"]!;
        usage.MemoryUsedPercent = 10;
        node.Service<ResourceSampler>().SampleNow();
        var roomy = await node.Client.RunAsync(task.DeepClone().AsObject());
        var afterKeep = (await node.Client.GetJsonAsync("/api/models"))["runtime"]!;

        Assert.Equal("completed", short1["state"]!.GetValue<string>());
        Assert.Equal("completed", roomy["state"]!.GetValue<string>());
        Assert.Equal(1, afterKeep["workers"]!["started"]!.GetValue<long>()); // the same worker ran both
        Assert.Equal(1, afterRelease["sessionCache"]!["arenaReleases"]!.GetValue<long>());
        Assert.Equal(1, afterKeep["sessionCache"]!["arenaReleases"]!.GetValue<long>());
        var released = afterRelease["workers"]!["residentBytes"]!.GetValue<long>();
        var kept = afterKeep["workers"]!["residentBytes"]!.GetValue<long>();
        Assert.True(kept - released >= 50L * 1024 * 1024, $"the worker held {released >> 20} MB after the run that gave its buffers back and {kept >> 20} MB after the one that kept them");
    }
}
