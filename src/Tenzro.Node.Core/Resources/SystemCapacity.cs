using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;

namespace Tenzro.Node.Core.Resources;

/// <summary>
/// What the network may reserve on this machine: the usable capacity scaled by the operator's MAX_* settings.
/// The usable cores and memory come from the hardware profile (cgroup quota and limit applied, a fractional
/// quota kept as it is); without one, from the .NET runtime, which applies cgroup CPU quotas (rounded up) to
/// <see cref="Environment.ProcessorCount"/> and memory limits to <see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>.
/// GPUs are the usable ones of the profile (a compute driver loaded); none without a profile.
/// </summary>
public static class SystemCapacity
{
    /// <summary>
    /// Follows a change of the usable cores or memory between two profiles (a container resized while the node runs):
    /// sets the ledger's maximum cores and memory to what <see cref="Allowed(ResourceOptions, StorageOptions, HardwareProfile?)"/>
    /// gives for <paramref name="after"/>, storage and GPUs kept. Returns the new maximum, or null when neither changed.
    /// </summary>
    public static ResourceAmounts? Follow(IResourceLedger ledger, ResourceOptions options, StorageOptions storage, HardwareProfile before, HardwareProfile after)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        if (before.Cpu.UsableCores == after.Cpu.UsableCores && before.Memory.UsableBytes == after.Memory.UsableBytes)
        {
            return null;
        }

        var allowed = Allowed(options, storage, after);
        var maximum = ledger.Maximum with { Cpu = allowed.Cpu, MemoryMB = allowed.MemoryMB };
        ledger.SetMaximum(maximum);
        return maximum;
    }

    public static ResourceAmounts Allowed(ResourceOptions options, StorageOptions storage, HardwareProfile? profile)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(storage);
        var cores = UsableCores(profile) * options.MaxCpuPercent / 100.0;
        var memoryMB = options.MaxMemoryGb is { } gb ? (long)(gb * 1024) : (long)(UsableMemoryMB(profile) * 0.8);
        Directory.CreateDirectory(storage.DataDirectory);
        var freeStorageMB = new DriveInfo(storage.DataDirectory).AvailableFreeSpace / (1024 * 1024);
        var storageMB = options.MaxStorageGb is { } sgb ? (long)(sgb * 1024) : freeStorageMB / 2;
        var gpus = profile?.ComputeGpus() ?? [];
        var gpuMemoryMB = gpus.Sum(g => (g.MemoryBytes ?? 0) / (1024 * 1024));
        if (options.MaxGpuMemoryGb is { } ggb)
        {
            gpuMemoryMB = Math.Min(gpuMemoryMB, (long)(ggb * 1024));
        }

        return new ResourceAmounts(Math.Round(cores, 2), memoryMB, storageMB, gpus.Count, gpuMemoryMB);
    }

    /// <summary>
    /// The cap that applies on top of <see cref="Allowed(ResourceOptions, StorageOptions, HardwareProfile?)"/> while the
    /// machine's user is active: ACTIVE_MAX_CPU_PERCENT of the usable cores and ACTIVE_MAX_MEMORY_GB; a setting left
    /// empty leaves its resource uncapped (the idle limit stays in force). Storage and GPUs are never capped.
    /// </summary>
    public static ResourceAmounts ActiveCap(ResourceOptions options, HardwareProfile? profile)
    {
        ArgumentNullException.ThrowIfNull(options);
        var cap = ResourceAmounts.Unlimited;
        if (options.ActiveMaxCpuPercent is { } percent)
        {
            cap = cap with { Cpu = Math.Round(UsableCores(profile) * percent / 100.0, 2) };
        }

        if (options.ActiveMaxMemoryGb is { } gb)
        {
            cap = cap with { MemoryMB = (long)(gb * 1024) };
        }

        return cap;
    }

    private static double UsableCores(HardwareProfile? profile) => profile?.Cpu.UsableCores ?? Environment.ProcessorCount;

    private static long UsableMemoryMB(HardwareProfile? profile) =>
        (profile?.Memory.UsableBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes) / (1024 * 1024);
}
