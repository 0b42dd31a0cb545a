using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tenzro.Node.Core.Hardware.Benchmarks;

/// <summary>
/// Sequential write and read throughput and fsync latency of the filesystem holding DATA_DIR, measured
/// with temporary files named <c>.tenzro-benchmark-*.tmp</c> that are deleted afterwards (and at the
/// next run, should the process have died in between).
/// </summary>
internal static partial class StorageBenchmark
{
    public const string FilePrefix = ".tenzro-benchmark-";

    private const int Block = 1024 * 1024;

    /// <summary>POSIX_FADV_DONTNEED on Linux.</summary>
    private const int AdviceDontNeed = 4;

    public static IEnumerable<KeyValuePair<string, BenchmarkFigure>> Run(string dataDirectory, BenchmarkBudget budget)
    {
        Directory.CreateDirectory(dataDirectory);
        foreach (var stale in Directory.EnumerateFiles(dataDirectory, FilePrefix + "*.tmp"))
        {
            File.Delete(stale);
        }

        var data = Path.Combine(dataDirectory, $"{FilePrefix}{Guid.NewGuid():N}.tmp");
        var sync = Path.Combine(dataDirectory, $"{FilePrefix}{Guid.NewGuid():N}.tmp");
        var figures = new List<KeyValuePair<string, BenchmarkFigure>>();
        try
        {
            var (written, writeSeconds) = Write(data, budget);
            figures.Add(new(BenchmarkNames.StorageSequentialWrite, new BenchmarkFigure(Math.Round(written / writeSeconds / 1e6, 1), BenchmarkNames.MegabytesPerSecond)));

            // Reading back what was just written measures the page cache, not the disk; without a way to
            // drop the file's cached pages there is no read figure.
            if (DropCachedPages(data))
            {
                var (read, readSeconds) = Read(data, budget);
                figures.Add(new(BenchmarkNames.StorageSequentialRead, new BenchmarkFigure(Math.Round(read / readSeconds / 1e6, 1), BenchmarkNames.MegabytesPerSecond)));
            }

            figures.Add(new(BenchmarkNames.StorageFsyncLatency, new BenchmarkFigure(Math.Round(FsyncMilliseconds(sync, budget), 3), BenchmarkNames.Milliseconds)));
        }
        finally
        {
            File.Delete(data);
            File.Delete(sync);
        }

        return figures;
    }

    /// <summary>Writes 1 MiB blocks until the size or time budget is spent, then fsyncs; the fsync counts.</summary>
    private static (long Bytes, double Seconds) Write(string path, BenchmarkBudget budget)
    {
        var block = new byte[Block];
        Random.Shared.NextBytes(block);
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
        var written = 0L;
        var watch = Stopwatch.StartNew();
        do
        {
            stream.Write(block);
            written += Block;
        }
        while (written < budget.StorageBytes && watch.Elapsed < budget.StorageWrite);

        stream.Flush(flushToDisk: true);
        return (written, watch.Elapsed.TotalSeconds);
    }

    private static (long Bytes, double Seconds) Read(string path, BenchmarkBudget budget)
    {
        var block = new byte[Block];
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        var read = 0L;
        var watch = Stopwatch.StartNew();
        int count;
        while ((count = stream.Read(block)) > 0)
        {
            read += count;
            if (watch.Elapsed >= budget.StorageRead)
            {
                break;
            }
        }

        return (read, watch.Elapsed.TotalSeconds);
    }

    /// <summary>Median time of a 4 KiB overwrite followed by fsync.</summary>
    private static double FsyncMilliseconds(string path, BenchmarkBudget budget)
    {
        var page = new byte[4096];
        Random.Shared.NextBytes(page);
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
        stream.Write(page);
        stream.Flush(flushToDisk: true);
        var samples = new List<double>();
        var total = Stopwatch.StartNew();
        do
        {
            stream.Position = 0;
            var one = Stopwatch.GetTimestamp();
            stream.Write(page);
            stream.Flush(flushToDisk: true);
            samples.Add(Stopwatch.GetElapsedTime(one).TotalMilliseconds);
        }
        while (samples.Count < budget.FsyncSamples && total.Elapsed < budget.Fsync);

        samples.Sort();
        return samples[samples.Count / 2];
    }

    /// <summary>Asks the kernel to drop the (clean, fsynced) cached pages of the file, so the read comes from the device.</summary>
    private static bool DropCachedPages(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            return PosixFadvise(handle, 0, 0, AdviceDontNeed) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    // libc's posix_fadvise(2); "libc" resolves to the C library on glibc and musl alike.
    [DllImport("libc", EntryPoint = "posix_fadvise", ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int PosixFadvise(SafeFileHandle fd, long offset, long length, int advice);
}
