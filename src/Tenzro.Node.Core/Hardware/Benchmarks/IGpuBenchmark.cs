namespace Tenzro.Node.Core.Hardware.Benchmarks;

/// <summary>A GPU micro-benchmark, implemented beside the runtime that drives the GPU.</summary>
public interface IGpuBenchmark
{
    /// <summary>Measures for about <paramref name="budget"/>; null when no GPU can run work here.</summary>
    BenchmarkFigure? Run(TimeSpan budget, CancellationToken cancellationToken);
}
