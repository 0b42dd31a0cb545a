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
    public void Auto_TwoCoreMachine_EightSlotsPerCore()
    {
        var slots = SlotsFor(MachineProfiles.TwoCores(), out _);

        Assert.Equal(16, slots.Current);
        Assert.Equal(4, slots.UnheldCurrent);
        Assert.Equal(4, RunSlotRule.UnheldSlots(SystemCapacity.Allowed(new ResourceOptions(), new StorageOptions { DataDirectory = _dataDirectory }, MachineProfiles.TwoCores())));
        Assert.Contains("2 cores allowed × 8 = 16", slots.Decision.Reason, StringComparison.Ordinal);
        Assert.Contains("of them 4 for tasks of a fraction of a core not held to it (× 2 a core)", slots.Decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_SixtyFourCoreMachine_CoresBoundAndEachGpuAddsASlot()
    {
        var withoutGpu = SlotsFor(MachineProfiles.SixtyFourCores(gpu: false), out _);
        var withGpu = SlotsFor(MachineProfiles.SixtyFourCores(gpu: true), out _);

        Assert.Equal(512, withoutGpu.Current);
        Assert.Equal(513, withGpu.Current);
        Assert.Equal((128, 129), (withoutGpu.UnheldCurrent, withGpu.UnheldCurrent));
        Assert.Contains("1 GPU(s)", withGpu.Decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_UnderCgroupLimit_FractionalCoresRoundUpAndMemoryBounds()
    {
        // 1.5 cores → 12 slots, but 1 GB usable, 80 % of it allowed (819 MB) → 3 slots of 256 MB.
        var limited = SlotsFor(MachineProfiles.CgroupLimited(), out _);
        var tight = SlotsFor(MachineProfiles.Make(logical: 16, usable: 1.5, memoryBytes: MachineProfiles.GiB / 2), out _);
        var fractional = SlotsFor(MachineProfiles.Make(logical: 16, usable: 1.3, memoryBytes: 8 * MachineProfiles.GiB), out _);

        Assert.Equal((3, 3), (limited.Current, limited.UnheldCurrent));
        Assert.Contains("1.5 cores allowed × 8 = 12", limited.Decision.Reason, StringComparison.Ordinal);
        Assert.Equal(1, tight.Current);
        Assert.Contains("÷ 256 MB = 1", tight.Decision.Reason, StringComparison.Ordinal);
        Assert.Equal(11, fractional.Current);
        Assert.Contains("1.3 cores allowed × 8 = 11", fractional.Decision.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2, 8, 16, 2.0)]
    [InlineData(64, 256, 512, 64.0)]
    [InlineData(6, 4, 12, 1.5)] // 80 % of 4 GB is 3,276 MB: 12 slots of 256 MB bind before the cores
    public void Auto_TasksOfAnEighthOfACore_FillTheCoresAllowed(int cores, int memoryGiB, int expectedSlots, double expectedCores)
    {
        var slots = SlotsFor(MachineProfiles.Make(logical: cores, usable: cores, memoryBytes: memoryGiB * MachineProfiles.GiB), out var ledger);
        var small = ResourceAmounts.None with { Cpu = 0.125, MemoryMB = 16 };

        // Each task is held to its eighth of a core, so as many as the slots allow must all fit the ledger and, together,
        // reserve every core allowed where the memory does not bind first.
        var reserved = Enumerable.Range(0, slots.Current).Count(i => ledger.TryReserve($"t{i}", small, out _));

        Assert.Equal(expectedSlots, slots.Current);
        Assert.Equal(expectedSlots, reserved);
        Assert.Equal(expectedCores, ledger.Reserved.Cpu, 6);
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

        Assert.Equal(512, idle);
        Assert.Equal(128, active);
        Assert.Equal(512, slots.Current);
    }

    [Fact]
    public void Configured_NumberWinsOverTheMachine()
    {
        var slots = SlotsFor(MachineProfiles.SixtyFourCores(gpu: true), out _, configured: 5);

        var choice = Assert.Single(slots.Choices());

        Assert.Equal((5, 5), (slots.Current, slots.UnheldCurrent));
        Assert.False(slots.IsAuto);
        Assert.Equal("MAX_CONCURRENT_TASKS", choice.Setting);
        Assert.Equal(5, choice.Value!.GetValue<int>());
        Assert.Contains("is set", choice.Reason, StringComparison.Ordinal);
    }
}
