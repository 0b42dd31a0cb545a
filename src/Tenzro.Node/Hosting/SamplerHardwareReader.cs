using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Hosting;

/// <summary>
/// The profile refresh reads the resource sampler's live figures, so available memory and free storage
/// are sampled once for the whole node; the usable cores and memory (the CPU affinity and cgroup limits) it reads
/// directly, as it does everything before the sampler's first sample.
/// </summary>
internal sealed class SamplerHardwareReader(ResourceSampler sampler, IDynamicHardwareReader direct) : IDynamicHardwareReader
{
    public DynamicHardwareFigures Read()
    {
        var usage = sampler.Current;
        var read = direct.Read();
        return usage.MemoryTotalBytes == 0
            ? read
            : read with { AvailableMemoryBytes = usage.MemoryAvailableBytes, FreeStorageBytes = usage.StorageFreeBytes };
    }
}
