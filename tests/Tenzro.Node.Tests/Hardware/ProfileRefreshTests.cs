using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Optimization;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Hosting;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Hardware;

[Trait("Suite", "hardware")]
public sealed class ProfileRefreshTests
{
    [Fact]
    public async Task ProfileRefreshService_IntervalPasses_PublishesTheReaderFigures()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2025-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var profiler = new HardwareProfiler(TierAndRequirementsTests.Facts(4, 8L << 30, 0), new NodeOptions(), new NetworkOptions(), time);
        var reader = new FixedReader(new DynamicHardwareFigures(123_456_789, 987_654_321));
        using var service = new ProfileRefreshService(
            profiler, reader, new HardwareOptions { ProfileUpdateInterval = TimeSpan.FromMinutes(5) }, new ResourceOptions(), new StorageOptions(), new ServiceCollection().BuildServiceProvider(), time, NullLogger<ProfileRefreshService>.Instance);
        await service.StartAsync(Timeouts.Token());

        var before = profiler.Current;

        // ExecuteAsync starts on its own thread, so the timer may not exist yet: keep moving the clock.
        var deadline = DateTime.UtcNow + Timeouts.Short;
        while (profiler.Current.Memory.AvailableBytes != 123_456_789 && DateTime.UtcNow < deadline)
        {
            time.Advance(TimeSpan.FromMinutes(5));
            await Task.Delay(10);
        }

        await service.StopAsync(Timeouts.Token());
        var after = profiler.Current;

        Assert.Equal(123_456_789, after.Memory.AvailableBytes);
        Assert.Equal(987_654_321, after.Storage.FreeBytes);
        Assert.Equal("2025-01-01T00:00:00.0000000Z", before.UpdatedAt);
        Assert.Matches(@"^2025-01-01T00:[0-9]{2}:00\.0000000Z$", after.UpdatedAt);
        Assert.NotEqual(before.UpdatedAt, after.UpdatedAt);
        Assert.Equal(before.CollectedAt, after.CollectedAt);
        Assert.Equal(before.Memory.TotalBytes, after.Memory.TotalBytes);
    }

    [Fact]
    public void Refresh_ContainerResized_TheLedgerAndTheAutoRunSlotsFollowTheUsableCoresAndMemory()
    {
        var directory = TestNode.NewDirectory();
        var time = new FakeTimeProvider();
        var profiler = new HardwareProfiler(TierAndRequirementsTests.Facts(4, 8L << 30, 0), new NodeOptions(), new NetworkOptions(), time);
        var resources = new ResourceOptions();
        var storage = new StorageOptions { DataDirectory = directory };
        var ledger = new ResourceLedger(SystemCapacity.Allowed(resources, storage, profiler.Current), time);
        var slots = new RunSlots(new TaskOptions(), ledger);
        var reader = new FixedReader(new DynamicHardwareFigures(4L << 30, 10L << 30));
        using var provider = new ServiceCollection().AddSingleton<IResourceLedger>(ledger).BuildServiceProvider();
        using var service = new ProfileRefreshService(profiler, reader, new HardwareOptions(), resources, storage, provider, time, NullLogger<ProfileRefreshService>.Instance);
        var atStart = (ledger.Maximum.Cpu, ledger.Maximum.MemoryMB, slots.Current);

        service.Refresh(); // no usable figures read: nothing changes
        var unchanged = (ledger.Maximum.Cpu, ledger.Maximum.MemoryMB, slots.Current);
        reader.Figures = new DynamicHardwareFigures(4L << 30, 10L << 30, UsableCores: 1.5, UsableMemoryBytes: 8L << 30);
        service.Refresh();
        var fewerCores = (ledger.Maximum.Cpu, ledger.Maximum.MemoryMB, slots.Current, profiler.Current.Cpu.UsableCores);
        reader.Figures = new DynamicHardwareFigures(512L << 20, 10L << 30, UsableCores: 1.5, UsableMemoryBytes: 1L << 30);
        service.Refresh();
        var lessMemory = (ledger.Maximum.Cpu, ledger.Maximum.MemoryMB, slots.Current);
        Directory.Delete(directory, recursive: true);

        Assert.Equal((4.0, 6553L, 25), atStart); // min(4 × 8, 6553 ÷ 256)
        Assert.Equal(atStart, unchanged);
        Assert.Equal((1.5, 6553L, 12, 1.5), fewerCores); // min(⌈1.5 × 8⌉, 25)
        Assert.Equal((1.5, 819L, 3), lessMemory); // 80 % of 1 GB: min(12, 3)
    }

    private sealed class FixedReader(DynamicHardwareFigures figures) : IDynamicHardwareReader
    {
        public DynamicHardwareFigures Figures { get; set; } = figures;

        public DynamicHardwareFigures Read() => Figures;
    }
}
