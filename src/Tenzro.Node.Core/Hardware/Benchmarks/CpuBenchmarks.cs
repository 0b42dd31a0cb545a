using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Tenzro.Node.Core.Hardware.Benchmarks;

/// <summary>
/// CPU throughput kernels. Each iteration of a kernel does <see cref="OpsPerIteration"/> dependent-chain
/// operations on four independent chains, so the figure is arithmetic throughput, not latency.
/// </summary>
internal static class CpuBenchmarks
{
    /// <summary>Four chains of one multiply and one add each.</summary>
    public const int OpsPerIteration = 8;

    private const int Chunk = 1 << 18;

    private static long _sink;

    /// <summary>64-bit integer multiply-add (a linear congruential step) on four chains.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static long Integer(long iterations, long seed)
    {
        ulong a = (ulong)seed, b = a + 1, c = a + 2, d = a + 3;
        for (var i = 0L; i < iterations; i++)
        {
            a = (a * 6364136223846793005UL) + 1442695040888963407UL;
            b = (b * 6364136223846793005UL) + 1442695040888963407UL;
            c = (c * 6364136223846793005UL) + 1442695040888963407UL;
            d = (d * 6364136223846793005UL) + 1442695040888963407UL;
        }

        return (long)(a ^ b ^ c ^ d);
    }

    /// <summary>Double-precision multiply-add on four chains; the values converge to 1 and never turn denormal.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static long Float(long iterations, long seed)
    {
        double a = 1 + (seed & 7), b = a + 1, c = a + 2, d = a + 3;
        const double m = 0.999999, k = 0.000001;
        for (var i = 0L; i < iterations; i++)
        {
            a = (a * m) + k;
            b = (b * m) + k;
            c = (c * m) + k;
            d = (d * m) + k;
        }

        return (long)((a + b + c + d) * 1000);
    }

    /// <summary>Runs <paramref name="kernel"/> on <paramref name="threads"/> dedicated threads for <paramref name="duration"/>; returns total operations per second.</summary>
    public static double Measure(Func<long, long, long> kernel, int threads, TimeSpan duration)
    {
        kernel(Chunk, 1);
        var counts = new long[threads];
        using var start = new ManualResetEventSlim();
        var workers = new Thread[threads];
        var deadline = 0L;
        for (var t = 0; t < threads; t++)
        {
            var index = t;
            workers[t] = new Thread(() =>
            {
                start.Wait();
                var iterations = 0L;
                var sink = 0L;
                while (Stopwatch.GetTimestamp() < Volatile.Read(ref deadline))
                {
                    sink ^= kernel(Chunk, iterations + index);
                    iterations += Chunk;
                }

                counts[index] = iterations;
                Interlocked.Add(ref _sink, sink);
            })
            {
                IsBackground = true,
                Name = "tenzro-benchmark",
            };
            workers[t].Start();
        }

        var began = Stopwatch.GetTimestamp();
        Volatile.Write(ref deadline, began + (long)(duration.TotalSeconds * Stopwatch.Frequency));
        start.Set();
        foreach (var worker in workers)
        {
            worker.Join();
        }

        var elapsed = Stopwatch.GetElapsedTime(began).TotalSeconds;
        return counts.Sum() * (double)OpsPerIteration / elapsed;
    }
}
