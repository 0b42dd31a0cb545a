using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Hardware.Benchmarks;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// A float32 N×N matrix multiplication through ONNX Runtime, reported in GFLOP/s (2·N³ per run): on the
/// CUDA provider for the hardware profile, or on the CPU provider when asked (tests, comparisons).
/// </summary>
internal sealed class GpuMatMulBenchmark(OnnxCapabilities capabilities, bool useCuda = true, int size = 512) : IGpuBenchmark
{
    public BenchmarkFigure? Run(TimeSpan budget, CancellationToken cancellationToken)
    {
        if (useCuda && !capabilities.CudaAvailable)
        {
            return null;
        }

        var random = new Random(7);
        var a = new float[size * size];
        var b = new float[size * size];
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = (float)random.NextDouble();
            b[i] = (float)random.NextDouble();
        }

        using var options = new SessionOptions();
        if (useCuda && OnnxCapabilities.TryAppendCuda(options) is { } reason)
        {
            throw new InvalidOperationException($"CUDA execution provider unavailable: {reason}");
        }

        using var session = new InferenceSession(Model(b), options);
        var input = new DenseTensor<float>(a, [size, size]);
        using (session.Run([NamedOnnxValue.CreateFromTensor("a", input)]))
        {
            // The first run loads kernels and allocates; it is not measured.
        }

        var runs = 0;
        var watch = Stopwatch.StartNew();
        do
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("a", input)]);
            runs++;
        }
        while (watch.Elapsed < budget);

        var flops = 2.0 * size * size * size * runs;
        return new BenchmarkFigure(Math.Round(flops / watch.Elapsed.TotalSeconds / 1e9, 2), BenchmarkNames.GigaflopsPerSecond);
    }

    /// <summary>c = a · b with b as an initializer.</summary>
    private byte[] Model(float[] b) => OnnxModelWriter.Write(new OnnxGraph(
        "matmul",
        [new OnnxNode("MatMul", ["a", "b"], ["c"], "matmul")],
        [OnnxInitializer.Floats("b", [size, size], b)],
        [new OnnxValueInfo("a", OnnxDataType.Float, [OnnxDim.Fixed(size), OnnxDim.Fixed(size)])],
        [new OnnxValueInfo("c", OnnxDataType.Float, [OnnxDim.Fixed(size), OnnxDim.Fixed(size)])]),
        "tenzro-node");
}
