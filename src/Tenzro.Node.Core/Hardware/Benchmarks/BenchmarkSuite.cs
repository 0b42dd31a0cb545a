using System.Diagnostics;

namespace Tenzro.Node.Core.Hardware.Benchmarks;

/// <summary>How long each micro-benchmark may run and how much data it moves. The defaults total about 3 s.</summary>
public sealed record BenchmarkBudget
{
    /// <summary>Each of the four CPU benchmarks (integer and float, one core and all cores).</summary>
    public TimeSpan Cpu { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan Memory { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Size of each of the two arrays of the memory copy; large enough to leave the CPU caches.</summary>
    public int MemoryBytes { get; init; } = 64 * 1024 * 1024;

    public TimeSpan StorageWrite { get; init; } = TimeSpan.FromMilliseconds(600);

    public TimeSpan StorageRead { get; init; } = TimeSpan.FromMilliseconds(400);

    /// <summary>Largest temporary file written in DATA_DIR (the write stops earlier when its time is up).</summary>
    public long StorageBytes { get; init; } = 64L * 1024 * 1024;

    public TimeSpan Fsync { get; init; } = TimeSpan.FromMilliseconds(400);

    /// <summary>At most this many fsync round trips are timed.</summary>
    public int FsyncSamples { get; init; } = 20;

    /// <summary>Time for the GPU matmul, where a GPU can run work.</summary>
    public TimeSpan Gpu { get; init; } = TimeSpan.FromMilliseconds(500);
}

/// <summary>Names and units of the figures in the profile's <c>benchmarks</c>.</summary>
public static class BenchmarkNames
{
    public const string CpuIntegerSingleCore = "cpuIntegerSingleCore";
    public const string CpuIntegerAllCores = "cpuIntegerAllCores";
    public const string CpuFloatSingleCore = "cpuFloatSingleCore";
    public const string CpuFloatAllCores = "cpuFloatAllCores";
    public const string MemoryCopyBandwidth = "memoryCopyBandwidth";
    public const string StorageSequentialWrite = "storageSequentialWrite";
    public const string StorageSequentialRead = "storageSequentialRead";
    public const string StorageFsyncLatency = "storageFsyncLatency";
    public const string GpuMatMul = "gpuMatMul";
    public const string GigaflopsPerSecond = "GFLOP/s";

    public const string OpsPerSecond = "ops/s";
    public const string GigabytesPerSecond = "GB/s";
    public const string MegabytesPerSecond = "MB/s";
    public const string Milliseconds = "ms";
}

/// <summary>
/// The micro-benchmarks: integer and float throughput on one core and on all cores, memory copy
/// bandwidth, sequential write/read throughput and fsync latency of a temporary file in DATA_DIR, and,
/// where a GPU can run work, a float32 matrix multiplication on it.
/// Every benchmark is time-boxed by <see cref="BenchmarkBudget"/>.
/// </summary>
/// <remarks>Not thread-safe: run one suite at a time (the caller serializes runs). Blocks the calling thread.</remarks>
public sealed class BenchmarkSuite(BenchmarkBudget budget, IGpuBenchmark? gpu = null)
{
    /// <summary>Arrays of the memory copy from this size on are given back to the system once it is measured.</summary>
    private const int CollectAfterCopyBytes = 16 * 1024 * 1024;

    public BenchmarkBudget Budget { get; } = budget;

    /// <summary>Runs every benchmark and returns the figures; the temporary files are deleted even on failure.</summary>
    /// <param name="dataDirectory">Where the storage benchmark writes its temporary file.</param>
    /// <param name="threads">Threads of the all-core benchmarks: the logical cores the node may use.</param>
    /// <param name="cancellationToken">Stops between benchmarks.</param>
    public Dictionary<string, BenchmarkFigure> Run(string dataDirectory, int threads, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataDirectory);
        var figures = new Dictionary<string, BenchmarkFigure>(StringComparer.Ordinal);
        threads = Math.Max(1, threads);

        figures[BenchmarkNames.CpuIntegerSingleCore] = Ops(CpuBenchmarks.Measure(CpuBenchmarks.Integer, 1, Budget.Cpu));
        cancellationToken.ThrowIfCancellationRequested();
        figures[BenchmarkNames.CpuIntegerAllCores] = Ops(CpuBenchmarks.Measure(CpuBenchmarks.Integer, threads, Budget.Cpu));
        cancellationToken.ThrowIfCancellationRequested();
        figures[BenchmarkNames.CpuFloatSingleCore] = Ops(CpuBenchmarks.Measure(CpuBenchmarks.Float, 1, Budget.Cpu));
        cancellationToken.ThrowIfCancellationRequested();
        figures[BenchmarkNames.CpuFloatAllCores] = Ops(CpuBenchmarks.Measure(CpuBenchmarks.Float, threads, Budget.Cpu));
        cancellationToken.ThrowIfCancellationRequested();

        figures[BenchmarkNames.MemoryCopyBandwidth] = new BenchmarkFigure(Math.Round(MemoryCopyBytesPerSecond() / 1e9, 2), BenchmarkNames.GigabytesPerSecond);

        // The copy's two arrays (128 MB by default) are garbage now, but an idle node allocates too little for the GC to
        // collect them on its own: they would stay in its memory for good. One full collection gives them back to the
        // system (aggressive: the freed space is returned, not kept for later allocations). Arrays of a few megabytes (a
        // test's budget) are not worth a full collection of the process.
        if (Budget.MemoryBytes >= CollectAfterCopyBytes)
        {
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }

        cancellationToken.ThrowIfCancellationRequested();

        foreach (var (name, figure) in StorageBenchmark.Run(dataDirectory, Budget))
        {
            figures[name] = figure;
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (gpu?.Run(Budget.Gpu, cancellationToken) is { } matmul)
        {
            figures[BenchmarkNames.GpuMatMul] = matmul;
        }

        return figures;
    }

    private static BenchmarkFigure Ops(double opsPerSecond) => new(Math.Round(opsPerSecond), BenchmarkNames.OpsPerSecond);

    /// <summary>Copies one large array into another until the time is up; counts bytes read plus bytes written, as STREAM's Copy does.</summary>
    private double MemoryCopyBytesPerSecond()
    {
        var source = GC.AllocateUninitializedArray<byte>(Budget.MemoryBytes);
        var target = GC.AllocateUninitializedArray<byte>(Budget.MemoryBytes);
        Random.Shared.NextBytes(source);
        source.AsSpan().CopyTo(target);
        var copies = 0L;
        var watch = Stopwatch.StartNew();
        do
        {
            source.AsSpan().CopyTo(target);
            copies++;
        }
        while (watch.Elapsed < Budget.Memory);

        var elapsed = watch.Elapsed.TotalSeconds;
        GC.KeepAlive(target);
        return 2.0 * copies * Budget.MemoryBytes / elapsed;
    }
}
