namespace Tenzro.Node.Core.Hardware;

/// <summary>What the machine has, as read once at start-up; <see cref="HardwareProfiler"/> turns it into the profile.</summary>
/// <param name="MachineId">/etc/machine-id when readable; part of the fingerprint only, never shown.</param>
/// <param name="Problems">Tools that failed or timed out while reading, for the start-up log.</param>
public sealed record HardwareFacts(
    OperatingSystemInfo Os,
    CpuProfile Cpu,
    MemoryProfile Memory,
    StorageProfile Storage,
    IReadOnlyList<GpuProfile> Gpus,
    IReadOnlyList<NetworkInterfaceProfile> Interfaces,
    IReadOnlyList<AppliedLimit> LimitsApplied,
    string? MachineId,
    IReadOnlyList<string> Problems)
{
    /// <summary>What could not be read on this machine, and where the figure comes from instead; empty when everything was.</summary>
    public IReadOnlyList<string> NotDetected { get; init; } = [];
}

/// <summary>Reads the machine's hardware.</summary>
public interface IHardwareSource
{
    /// <summary>
    /// Reads every figure of the profile for a node whose DATA_DIR is <paramref name="dataDirectory"/>.
    /// External tools run with a timeout, so this returns within a few seconds even when a driver hangs.
    /// </summary>
    Task<HardwareFacts> CollectAsync(string dataDirectory, CancellationToken cancellationToken);
}

/// <summary>The figures that change while the node runs, refreshed every PROFILE_UPDATE_INTERVAL.</summary>
/// <param name="AvailableMemoryBytes">Memory available to the node (MemAvailable, lowered to what a cgroup limit leaves).</param>
/// <param name="FreeStorageBytes">Space the node may still write under DATA_DIR.</param>
/// <param name="UsableCores">The cores the node may use now (its CPU affinity, lowered by a cgroup quota); null where not read.</param>
/// <param name="UsableMemoryBytes">The memory the node may use now (lowered by a cgroup limit); null where not read.</param>
public sealed record DynamicHardwareFigures(long AvailableMemoryBytes, long FreeStorageBytes, double? UsableCores = null, long? UsableMemoryBytes = null);

/// <summary>
/// Reads the dynamic figures. The Linux implementation reads /proc and the cgroup files itself; an
/// implementation over the resource sampler's live figures can replace it without touching the profiler.
/// </summary>
/// <remarks>Called from one background loop at a time; implementations need not be thread-safe.</remarks>
public interface IDynamicHardwareReader
{
    DynamicHardwareFigures Read();
}
