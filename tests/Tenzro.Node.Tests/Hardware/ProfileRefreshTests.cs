using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
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
        using var service = new ProfileRefreshService(profiler, reader, new HardwareOptions { ProfileUpdateInterval = TimeSpan.FromMinutes(5) }, time, NullLogger<ProfileRefreshService>.Instance);
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

    private sealed class FixedReader(DynamicHardwareFigures figures) : IDynamicHardwareReader
    {
        public DynamicHardwareFigures Read() => figures;
    }
}
