using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Hosting;

/// <summary>
/// The profile refresh reads the resource sampler's live figures, so available memory and free storage
/// are sampled once for the whole node. Before the sampler's first sample it reads them directly.
/// </summary>
internal sealed class SamplerHardwareReader(ResourceSampler sampler, IDynamicHardwareReader beforeFirstSample) : IDynamicHardwareReader
{
    public DynamicHardwareFigures Read()
    {
        var usage = sampler.Current;
        return usage.MemoryTotalBytes == 0
            ? beforeFirstSample.Read()
            : new DynamicHardwareFigures(usage.MemoryAvailableBytes, usage.StorageFreeBytes);
    }
}
