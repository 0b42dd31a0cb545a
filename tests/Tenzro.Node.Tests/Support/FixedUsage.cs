using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Support;

/// <summary>A usage source with figures the test sets: 100 GiB of memory and of storage, 2 cores.</summary>
public sealed class FixedUsage : IUsageSource
{
    private volatile int _memoryUsedPercent = 10;

    public int MemoryUsedPercent
    {
        get => _memoryUsedPercent;
        set => _memoryUsedPercent = value;
    }

    public int Cores => 2;

    public UsageReading Read() => new()
    {
        MemoryTotalBytes = 100L << 30,
        MemoryAvailableBytes = (100 - MemoryUsedPercent) * (1L << 30),
        StorageTotalBytes = 100L << 30,
        StorageFreeBytes = 50L << 30,
    };
}
