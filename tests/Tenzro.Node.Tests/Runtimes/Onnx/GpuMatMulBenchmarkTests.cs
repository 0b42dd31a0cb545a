using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Hardware.Benchmarks;
using Tenzro.Node.Runtimes.Onnx;

namespace Tenzro.Node.Tests.Runtimes.Onnx;

[Trait("Suite", "hardware")]
public sealed class GpuMatMulBenchmarkTests
{
    [Fact]
    public void Run_OnTheCpuProvider_MeasuresGigaflops()
    {
        var benchmark = new GpuMatMulBenchmark(new OnnxCapabilities(), useCuda: false, size: 128);

        var figure = benchmark.Run(TimeSpan.FromMilliseconds(100), CancellationToken.None);

        Assert.NotNull(figure);
        Assert.Equal(BenchmarkNames.GigaflopsPerSecond, figure.Unit);
        Assert.True(figure.Value > 0);
    }

    [Fact]
    public void Run_WithCuda_MeasuresExactlyWhereTheCudaProviderLoads()
    {
        var capabilities = new OnnxCapabilities();

        var figure = new GpuMatMulBenchmark(capabilities, size: 128).Run(TimeSpan.FromMilliseconds(100), CancellationToken.None);

        Assert.Equal(capabilities.CudaAvailable, figure is not null);
    }

    private sealed class FixedGpu : IGpuBenchmark
    {
        public BenchmarkFigure? Run(TimeSpan budget, CancellationToken cancellationToken) => new(123.4, BenchmarkNames.GigaflopsPerSecond);
    }

    [Fact]
    public void Suite_WithAGpuBenchmark_ReportsGpuMatMul()
    {
        var directory = Directory.CreateTempSubdirectory("tenzro-bench").FullName;
        var budget = new BenchmarkBudget
        {
            Cpu = TimeSpan.FromMilliseconds(10),
            Memory = TimeSpan.FromMilliseconds(10),
            MemoryBytes = 1 << 20,
            StorageWrite = TimeSpan.FromMilliseconds(10),
            StorageRead = TimeSpan.FromMilliseconds(10),
            StorageBytes = 1 << 20,
            Fsync = TimeSpan.FromMilliseconds(10),
            FsyncSamples = 2,
        };

        var figures = new BenchmarkSuite(budget, new FixedGpu()).Run(directory, 1, CancellationToken.None);
        Directory.Delete(directory, recursive: true);

        Assert.Equal(new BenchmarkFigure(123.4, BenchmarkNames.GigaflopsPerSecond), figures[BenchmarkNames.GpuMatMul]);
    }
}
