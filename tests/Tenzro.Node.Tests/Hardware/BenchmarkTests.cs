using Microsoft.Extensions.Logging.Abstractions;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Hardware.Benchmarks;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Hardware;

[Trait("Suite", "hardware")]
public sealed class BenchmarkTests : IDisposable
{
    /// <summary>A budget small enough for tests; the figures are still measured.</summary>
    internal static readonly BenchmarkBudget Quick = new()
    {
        Cpu = TimeSpan.FromMilliseconds(20),
        Memory = TimeSpan.FromMilliseconds(20),
        MemoryBytes = 4 * 1024 * 1024,
        StorageWrite = TimeSpan.FromMilliseconds(50),
        StorageRead = TimeSpan.FromMilliseconds(50),
        StorageBytes = 4 * 1024 * 1024,
        Fsync = TimeSpan.FromMilliseconds(50),
        FsyncSamples = 3,
    };

    private static readonly string[] AllNames =
    [
        BenchmarkNames.CpuIntegerSingleCore, BenchmarkNames.CpuIntegerAllCores, BenchmarkNames.CpuFloatSingleCore, BenchmarkNames.CpuFloatAllCores,
        BenchmarkNames.MemoryCopyBandwidth, BenchmarkNames.StorageSequentialWrite, BenchmarkNames.StorageSequentialRead, BenchmarkNames.StorageFsyncLatency,
    ];

    private readonly string _dataDirectory = TestNode.NewDirectory();
    private readonly NodeDatabase _database;

    public BenchmarkTests()
    {
        _database = new NodeDatabase(Path.Combine(_dataDirectory, "node.db"));
        _database.Migrate(Migrations.All);
    }

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);

    [Fact]
    public void Run_QuickBudget_MeasuresEveryFigureWithItsUnitAndLeavesNoFile()
    {
        var figures = new BenchmarkSuite(Quick).Run(_dataDirectory, Environment.ProcessorCount, Timeouts.Token());

        Assert.Equal(AllNames.Order(), figures.Keys.Order());
        Assert.All(figures.Values, f => Assert.True(f.Value > 0, $"{f.Value} {f.Unit}"));
        Assert.Equal("ops/s", figures[BenchmarkNames.CpuIntegerAllCores].Unit);
        Assert.Equal("ops/s", figures[BenchmarkNames.CpuFloatSingleCore].Unit);
        Assert.Equal("GB/s", figures[BenchmarkNames.MemoryCopyBandwidth].Unit);
        Assert.Equal("MB/s", figures[BenchmarkNames.StorageSequentialWrite].Unit);
        Assert.Equal("MB/s", figures[BenchmarkNames.StorageSequentialRead].Unit);
        Assert.Equal("ms", figures[BenchmarkNames.StorageFsyncLatency].Unit);
        Assert.Empty(Directory.EnumerateFiles(_dataDirectory, ".tenzro-benchmark-*"));
    }

    [Fact]
    public void Run_StaleFileFromACrash_IsDeleted()
    {
        var stale = Path.Combine(_dataDirectory, ".tenzro-benchmark-0123.tmp");
        File.WriteAllText(stale, "left over");

        new BenchmarkSuite(Quick).Run(_dataDirectory, 1, Timeouts.Token());

        Assert.False(File.Exists(stale));
    }

    [Fact]
    public async Task LoadOrRunAsync_SameFingerprintTwice_SecondReusesTheStoredRow()
    {
        using var first = Benchmarks(TierAndRequirementsTests.Facts(4, 8L << 30, 0), out var firstProfiler);
        var measured = await first.LoadOrRunAsync(runWhenMissing: true, Timeouts.Token());

        using var second = Benchmarks(TierAndRequirementsTests.Facts(4, 8L << 30, 0), out var secondProfiler);
        var cached = await second.LoadOrRunAsync(runWhenMissing: true, Timeouts.Token());

        Assert.Equal(BenchmarkState.Measured, measured.BenchmarkRun.State);
        Assert.Equal(BenchmarkState.Cached, cached.BenchmarkRun.State);
        Assert.Equal(measured.BenchmarkRun.MeasuredAt, cached.BenchmarkRun.MeasuredAt);
        Assert.Equal(measured.Benchmarks.OrderBy(b => b.Key), cached.Benchmarks.OrderBy(b => b.Key));
        Assert.Equal(cached, secondProfiler.Current);
    }

    [Fact]
    public async Task LoadOrRunAsync_FingerprintChanged_RunsAgain()
    {
        using var first = Benchmarks(TierAndRequirementsTests.Facts(4, 8L << 30, 0), out _);
        var before = await first.LoadOrRunAsync(runWhenMissing: true, Timeouts.Token());

        using var second = Benchmarks(TierAndRequirementsTests.Facts(4, 8L << 30, 24L << 30), out _);
        var after = await second.LoadOrRunAsync(runWhenMissing: true, Timeouts.Token());

        Assert.NotEqual(before.Fingerprint, after.Fingerprint);
        Assert.Equal(BenchmarkState.Measured, after.BenchmarkRun.State);
    }

    [Fact]
    public async Task LoadOrRunAsync_BenchmarkOnStartOffAndNothingCached_IsSkipped()
    {
        using var benchmarks = Benchmarks(TierAndRequirementsTests.Facts(4, 8L << 30, 0), out _);

        var profile = await benchmarks.LoadOrRunAsync(runWhenMissing: false, Timeouts.Token());

        Assert.Equal(BenchmarkState.Skipped, profile.BenchmarkRun.State);
        Assert.Empty(profile.Benchmarks);
    }

    [Fact]
    public async Task RunAsync_CalledTwiceAtOnce_SharesOneRun()
    {
        using var benchmarks = Benchmarks(TierAndRequirementsTests.Facts(4, 8L << 30, 0), out _);

        var both = await Task.WhenAll(benchmarks.RunAsync(Timeouts.Token()), benchmarks.RunAsync(Timeouts.Token())).WaitAsync(Timeouts.Long);

        Assert.Same(both[0], both[1]);
    }

    [Fact]
    public async Task RunAsync_DataDirectoryGone_ReportsFailedWithTheReason()
    {
        using var benchmarks = Benchmarks(TierAndRequirementsTests.Facts(4, 8L << 30, 0), out _, dataDirectory: "/proc/tenzro-cannot-write-here");

        var profile = await benchmarks.RunAsync(Timeouts.Token()).WaitAsync(Timeouts.Long);

        Assert.Equal(BenchmarkState.Failed, profile.BenchmarkRun.State);
        Assert.False(string.IsNullOrEmpty(profile.BenchmarkRun.Error));
    }

    private HardwareBenchmarks Benchmarks(HardwareFacts facts, out HardwareProfiler profiler, string? dataDirectory = null)
    {
        profiler = new HardwareProfiler(facts, new NodeOptions(), new NetworkOptions(), TimeProvider.System);
        return new HardwareBenchmarks(
            profiler,
            new BenchmarkStore(_database),
            new BenchmarkSuite(Quick),
            new StorageOptions { DataDirectory = dataDirectory ?? _dataDirectory },
            TimeProvider.System,
            NullLogger<HardwareBenchmarks>.Instance);
    }
}
