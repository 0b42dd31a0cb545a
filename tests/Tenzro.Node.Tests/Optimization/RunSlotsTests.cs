using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Optimization;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Optimization;

[Trait("Suite", "optimization")]
public sealed class RunSlotsTests : IDisposable
{
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("tenzro-slots-").FullName;

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);

    private RunSlots SlotsFor(HardwareProfile profile, out ResourceLedger ledger, ResourceOptions? resources = null, int? configured = null)
    {
        ledger = new ResourceLedger(SystemCapacity.Allowed(resources ?? new ResourceOptions(), new StorageOptions { DataDirectory = _dataDirectory }, profile), TimeProvider.System);
        return new RunSlots(new TaskOptions { MaxConcurrentTasks = configured }, ledger);
    }

    [Fact]
    public void Auto_TwoCoreMachine_TwoSlotsPerCore()
    {
        var slots = SlotsFor(MachineProfiles.TwoCores(), out _);

        Assert.Equal(4, slots.Current);
        Assert.Contains("2 cores allowed × 2 = 4", slots.Decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_SixtyFourCoreMachine_CoresBoundAndEachGpuAddsASlot()
    {
        var withoutGpu = SlotsFor(MachineProfiles.SixtyFourCores(gpu: false), out _);
        var withGpu = SlotsFor(MachineProfiles.SixtyFourCores(gpu: true), out _);

        Assert.Equal(128, withoutGpu.Current);
        Assert.Equal(129, withGpu.Current);
        Assert.Contains("1 GPU(s)", withGpu.Decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_UnderCgroupLimit_FractionalCoresRoundUpAndMemoryBounds()
    {
        // 1.5 cores → 3 slots; 1 GB usable, 80 % of it allowed (819 MB) → 3 slots of 256 MB.
        var limited = SlotsFor(MachineProfiles.CgroupLimited(), out _);
        var tight = SlotsFor(MachineProfiles.Make(logical: 16, usable: 1.5, memoryBytes: MachineProfiles.GiB / 2), out _);

        Assert.Equal(3, limited.Current);
        Assert.Contains("1.5 cores allowed", limited.Decision.Reason, StringComparison.Ordinal);
        Assert.Equal(1, tight.Current);
        Assert.Contains("÷ 256 MB = 1", tight.Decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_ActiveLimitsSetAndLifted_SlotsFollowWhatIsAllowed()
    {
        var resources = new ResourceOptions { ActiveMaxCpuPercent = 25 };
        var slots = SlotsFor(MachineProfiles.SixtyFourCores(gpu: false), out var ledger, resources);
        var idle = slots.Current;

        ledger.SetLimit(SystemCapacity.ActiveCap(resources, MachineProfiles.SixtyFourCores(gpu: false)));
        var active = slots.Current;
        ledger.SetLimit(null);

        Assert.Equal(128, idle);
        Assert.Equal(32, active);
        Assert.Equal(128, slots.Current);
    }

    [Fact]
    public void Configured_NumberWinsOverTheMachine()
    {
        var slots = SlotsFor(MachineProfiles.SixtyFourCores(gpu: true), out _, configured: 5);

        var choice = Assert.Single(slots.Choices());

        Assert.Equal(5, slots.Current);
        Assert.False(slots.IsAuto);
        Assert.Equal("MAX_CONCURRENT_TASKS", choice.Setting);
        Assert.Equal(5, choice.Value!.GetValue<int>());
        Assert.Contains("is set", choice.Reason, StringComparison.Ordinal);
    }
}
