namespace Tenzro.Node.Core.Hardware;

/// <summary>
/// Whether this node can run GPU work, not merely whether a GPU is present: the task runtimes must be
/// able to drive it. Today that is ONNX Runtime's CUDA execution provider on an NVIDIA GPU.
/// </summary>
/// <param name="Available">True when GPU tasks can run here.</param>
/// <param name="Runtime">The runtime that would run them (e.g. "onnxruntime").</param>
/// <param name="Providers">The execution providers that runtime contains.</param>
/// <param name="Reason">Why GPU tasks cannot run; null when they can.</param>
public sealed record GpuComputeInfo(bool Available, string Runtime, IReadOnlyList<string> Providers, string? Reason)
{
    public static GpuComputeInfo None(string reason) => new(false, "none", [], reason);
}

/// <summary>Finds out whether the detected GPUs can run work. Implemented beside the runtime that would use them.</summary>
public interface IGpuComputeProbe
{
    /// <summary>Probes for the given adapters. Must be cheap when none of them could be used (no runtime load).</summary>
    GpuComputeInfo Probe(IReadOnlyList<GpuProfile> gpus);
}

public static class GpuComputeRules
{
    /// <summary>The GPUs the node may lend: usable adapters of a vendor the compute runtime drives, when it loads.</summary>
    public static IReadOnlyList<GpuProfile> ComputeGpus(this HardwareProfile profile) =>
        profile.GpuCompute is { Available: true }
            ? [.. profile.Gpus.Where(g => g.Usable && g.Vendor.Equals("NVIDIA", StringComparison.OrdinalIgnoreCase))]
            : [];
}
