namespace Tenzro.Node.Core.Resources;

/// <summary>One sample of live usage. Immutable.</summary>
public sealed record ResourceUsage
{
    public required DateTimeOffset SampledAt { get; init; }

    /// <summary>Host CPU busy share over the last sampling period, 0..100.</summary>
    public double HostCpuPercent { get; init; }

    public long MemoryTotalBytes { get; init; }

    public long MemoryAvailableBytes { get; init; }

    public double MemoryUsedPercent => MemoryTotalBytes == 0 ? 0 : 100.0 * (MemoryTotalBytes - MemoryAvailableBytes) / MemoryTotalBytes;

    public long StorageTotalBytes { get; init; }

    public long StorageFreeBytes { get; init; }

    public double StorageUsedPercent => StorageTotalBytes == 0 ? 0 : 100.0 * (StorageTotalBytes - StorageFreeBytes) / StorageTotalBytes;

    /// <summary>The node process's CPU share over the last period, in percent of one core × cores (0..100).</summary>
    public double ProcessCpuPercent { get; init; }

    public long ProcessMemoryBytes { get; init; }

    public IReadOnlyList<GpuUsage> Gpus { get; init; } = [];

    /// <summary>Network bytes received and sent by the host since boot (all interfaces but loopback).</summary>
    public long NetworkReceivedBytes { get; init; }

    public long NetworkSentBytes { get; init; }
}

/// <summary>Live figures of one GPU.</summary>
public sealed record GpuUsage(string Name, double UtilizationPercent, long MemoryUsedBytes, long MemoryTotalBytes);

/// <summary>Raw counters read from the operating system; the sampler turns two readings into rates.</summary>
public sealed record UsageReading
{
    /// <summary>Total and idle CPU jiffies of the host (or the cgroup's usage in microseconds, with <see cref="CpuIsCgroup"/>).</summary>
    public long CpuTotal { get; init; }

    public long CpuIdle { get; init; }

    public bool CpuIsCgroup { get; init; }

    public long MemoryTotalBytes { get; init; }

    public long MemoryAvailableBytes { get; init; }

    public long StorageTotalBytes { get; init; }

    public long StorageFreeBytes { get; init; }

    public TimeSpan ProcessCpuTime { get; init; }

    public long ProcessMemoryBytes { get; init; }

    public long NetworkReceivedBytes { get; init; }

    public long NetworkSentBytes { get; init; }

    public IReadOnlyList<GpuUsage> Gpus { get; init; } = [];
}

/// <summary>Reads raw usage counters. The Linux implementation reads /proc and cgroup files; tests use a fake.</summary>
public interface IUsageSource
{
    UsageReading Read();

    /// <summary>CPU cores the usage is measured against (cgroup-aware).</summary>
    int Cores { get; }
}
