using Tenzro.Node.Core.Hardware;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// GPU work runs through ONNX Runtime's CUDA provider, so a GPU counts for the tier and the ledger only
/// when that provider loads. ONNX Runtime is loaded only when an NVIDIA GPU is present.
/// </summary>
internal sealed class OnnxGpuComputeProbe : IGpuComputeProbe
{
    public GpuComputeInfo Probe(IReadOnlyList<GpuProfile> gpus)
    {
        if (!gpus.Any(g => g.Vendor.Equals("NVIDIA", StringComparison.OrdinalIgnoreCase)))
        {
            return GpuComputeInfo.None(gpus.Count == 0
                ? "no GPU detected"
                : "no NVIDIA GPU: GPU tasks run on ONNX Runtime's CUDA provider, which drives NVIDIA GPUs only");
        }

        var capabilities = new OnnxCapabilities();
        return new GpuComputeInfo(capabilities.CudaAvailable, "onnxruntime", capabilities.Providers, capabilities.CudaUnavailableReason);
    }
}
