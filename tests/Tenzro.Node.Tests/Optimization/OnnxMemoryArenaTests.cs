using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Runtimes.Onnx;
using Tenzro.Node.Tests.Runtimes.Onnx;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Optimization;

/// <summary>ONNX_MEMORY_ARENA: ONNX Runtime's CPU memory arena from the memory available at start, in workers only.</summary>
[Trait("Suite", "optimization")]
public sealed class OnnxMemoryArenaTests : IDisposable
{
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("tenzro-onnx-arena-").FullName;

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);

    private OnnxTuning Tune(HardwareProfile profile, string setting = "auto", bool workers = true, ResourceOptions? resources = null)
    {
        var ledger = new ResourceLedger(SystemCapacity.Allowed(resources ?? new ResourceOptions(), new StorageOptions { DataDirectory = _dataDirectory }, profile), TimeProvider.System);
        return new OnnxTuning(new TaskOptions { OnnxMemoryArena = setting, Workers = workers }, ledger, profile);
    }

    private static (string Value, string Reason, string? Setting) Choice(OnnxTuning tuning)
    {
        var choice = tuning.Choices().Single(c => c.Name == "ONNX_MEMORY_ARENA");
        return (choice.Value!.GetValue<string>(), choice.Reason, choice.Setting);
    }

    [Fact]
    public void Auto_TwoCoresEightGigabytes_IsOff_TheAvailableMemoryDoesNotCoverTheReservableMemory()
    {
        // 4096 MB available; 6553 MB may be reserved over 4 run slots: 1639 MB a slot and 204 MB of session cache.
        var tuning = Tune(MachineProfiles.TwoCores());

        var (value, reason, setting) = Choice(tuning);

        Assert.False(tuning.MemoryArena);
        Assert.Equal("off", value);
        Assert.Equal("ONNX_MEMORY_ARENA", setting);
        Assert.StartsWith("4096 MB available at start < 6553 MB the network may reserve + 1843 MB one worker may use", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_LargeMachineLendingAQuarterOfItsMemory_IsOnInWorkers_AndOffInTheNodesProcess()
    {
        // 256 GB with MAX_MEMORY_GB=64: 131072 MB available covers 65536 MB + 512 MB a slot (128 slots) + 32 MB of cache.
        var resources = new ResourceOptions { MaxMemoryGb = 64 };

        var inWorkers = Tune(MachineProfiles.SixtyFourCores(gpu: false), resources: resources);
        var inProcess = Tune(MachineProfiles.SixtyFourCores(gpu: false), workers: false, resources: resources);

        Assert.True(inWorkers.MemoryArena);
        Assert.Equal("on", Choice(inWorkers).Value);
        Assert.StartsWith("131072 MB available at start ≥ 65536 MB the network may reserve + 544 MB one worker may use", Choice(inWorkers).Reason, StringComparison.Ordinal);
        Assert.False(inProcess.MemoryArena);
        Assert.Contains("TASK_WORKERS=false", Choice(inProcess).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_LargeMachineLendingItsDefaultShare_IsOff()
    {
        // 256 GB usable, half available: the 80 % the network may reserve is more than is available.
        Assert.False(Tune(MachineProfiles.SixtyFourCores(gpu: true)).MemoryArena);
        Assert.False(Tune(MachineProfiles.CgroupLimited()).MemoryArena);
    }

    [Theory]
    [InlineData(10_128, true)]
    [InlineData(10_127, false)]
    public void Rule_AvailableMemoryAtTheThreshold_TurnsTheArenaOn(long availableMB, bool on)
    {
        // 8000 MB reservable over 4 slots is 2000 MB a slot; 512 MB of session cache over 4 slots is 128 MB: 8000 + 2128.
        var (result, reason) = OnnxTuning.MemoryArenaRule("auto", inWorkers: true, availableMB, reservableMB: 8000, slots: 4, sessionCacheMB: 512);

        Assert.Equal(on, result);
        Assert.Contains("= 10128 MB", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Setting_OnOrOff_WinsOverTheRule_WithTheSettingAsTheReason()
    {
        var forcedOn = Tune(MachineProfiles.TwoCores(), setting: "on", workers: false);
        var forcedOff = Tune(MachineProfiles.SixtyFourCores(gpu: false), setting: "off", resources: new ResourceOptions { MaxMemoryGb = 64 });

        Assert.True(forcedOn.MemoryArena);
        Assert.Equal(("on", "ONNX_MEMORY_ARENA is set"), (Choice(forcedOn).Value, Choice(forcedOn).Reason));
        Assert.False(forcedOff.MemoryArena);
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
        Assert.Contains("MB available at start", choice["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("ONNX_MEMORY_ARENA", choice["setting"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("on", 1)]
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
}
