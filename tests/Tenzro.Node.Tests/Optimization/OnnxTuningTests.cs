using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Runtimes.Onnx;

namespace Tenzro.Node.Tests.Optimization;

[Trait("Suite", "optimization")]
public sealed class OnnxTuningTests : IDisposable
{
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("tenzro-onnx-tuning-").FullName;

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);

    private OnnxTuning Tune(HardwareProfile profile, ResourceOptions? resources = null, int? configuredMB = null)
    {
        var ledger = new ResourceLedger(SystemCapacity.Allowed(resources ?? new ResourceOptions(), new StorageOptions { DataDirectory = _dataDirectory }, profile), TimeProvider.System);
        return new OnnxTuning(new TaskOptions { OnnxSessionCacheMB = configuredMB }, ledger, profile);
    }

    [Fact]
    public void SessionCache_TwoCoreEightGigabytes_HalfOfWhatTheNetworkMayNotReserve()
    {
        // 8192 MB usable, 80 % (6553 MB) may be reserved: 1639 MB are not lent, half of it is 819 MB.
        var tuning = Tune(MachineProfiles.TwoCores());

        var choice = tuning.Choices().Single(c => c.Name == "ONNX_SESSION_CACHE_MB");

        Assert.Equal(819, tuning.SessionCacheMB);
        Assert.Equal(819, choice.Value!.GetValue<long>());
        Assert.Contains("1639 MB not lent", choice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void SessionCache_LargeMachine_CappedAndCgroupLimited_Floored()
    {
        Assert.Equal(OnnxTuning.MaxCacheMB, Tune(MachineProfiles.SixtyFourCores(gpu: false)).SessionCacheMB);
        Assert.Equal(102, Tune(MachineProfiles.CgroupLimited()).SessionCacheMB);
        Assert.Equal(OnnxTuning.MinCacheMB, Tune(MachineProfiles.TwoCores(), new ResourceOptions { MaxMemoryGb = 8 }).SessionCacheMB);
    }

    [Fact]
    public void SessionCache_SettingGiven_WinsOverTheRule()
    {
        var tuning = Tune(MachineProfiles.SixtyFourCores(gpu: true), configuredMB: 100);

        Assert.Equal(100, tuning.SessionCacheMB);
        Assert.Equal("ONNX_SESSION_CACHE_MB is set", tuning.Choices().Single(c => c.Name == "ONNX_SESSION_CACHE_MB").Reason);
    }

    [Fact]
    public void ExecutionProvider_WithAndWithoutAWorkingGpu_FollowsGpuCompute()
    {
        var withGpu = Tune(MachineProfiles.SixtyFourCores(gpu: true)).Choices().Single(c => c.Name == "ONNX_EXECUTION_PROVIDER");
        var withoutGpu = Tune(MachineProfiles.SixtyFourCores(gpu: false)).Choices().Single(c => c.Name == "ONNX_EXECUTION_PROVIDER");

        Assert.StartsWith("CUDAExecutionProvider", withGpu.Value!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("CPUExecutionProvider", withoutGpu.Value!.GetValue<string>());
        Assert.Contains("no GPU detected", withoutGpu.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Overrides_CpuOnlyAndFixedThreads_WinOverTheProfileAndTheReservation()
    {
        var auto = Tune(MachineProfiles.SixtyFourCores(gpu: true));
        var set = new OnnxTuning(
            new TaskOptions { OnnxExecutionProvider = "cpu", OnnxThreads = 3 },
            new ResourceLedger(SystemCapacity.Allowed(new ResourceOptions(), new StorageOptions { DataDirectory = Path.GetTempPath() }, MachineProfiles.SixtyFourCores(gpu: true)), TimeProvider.System),
            MachineProfiles.SixtyFourCores(gpu: true));
        var provider = set.Choices().Single(c => c.Name == "ONNX_EXECUTION_PROVIDER");
        var threads = set.Choices().Single(c => c.Name == "ONNX_THREADS");

        Assert.True(auto.CudaAllowed);
        Assert.Equal(2, auto.IntraOpThreadsFor(1.5));
        Assert.False(set.CudaAllowed);
        Assert.Equal(3, set.IntraOpThreadsFor(1.5));
        Assert.Equal(3, set.IntraOpThreadsFor(0.1));
        Assert.Equal(("CPUExecutionProvider", "ONNX_EXECUTION_PROVIDER"), (provider.Value!.GetValue<string>(), provider.Setting));
        Assert.Contains("ONNX_EXECUTION_PROVIDER is set", provider.Reason, StringComparison.Ordinal);
        Assert.Equal(("intra-op 3, inter-op 1, no spinning", "ONNX_THREADS"), (threads.Value!.GetValue<string>(), threads.Setting));
        Assert.Contains("ONNX_THREADS is set", threads.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.1, 1)]
    [InlineData(1, 1)]
    [InlineData(2.5, 3)]
    [InlineData(64, 64)]
    public void IntraOpThreads_FollowTheReservation(double cpu, int threads) =>
        Assert.Equal(threads, OnnxTuning.IntraOpThreads(cpu));
}
