using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;

namespace Tenzro.Node.Core.Resources;

/// <summary>
/// What the network may reserve on this machine: the usable capacity scaled by the operator's MAX_* settings.
/// The usable cores and memory come from the hardware profile (cgroup quota and limit applied, a fractional
/// quota kept as it is); without one, from the .NET runtime, which applies cgroup CPU quotas (rounded up) to
/// <see cref="Environment.ProcessorCount"/> and memory limits to <see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>.
/// </summary>
public static class SystemCapacity
{
    public static ResourceAmounts Allowed(ResourceOptions options, StorageOptions storage) => Allowed(options, storage, null);

    public static ResourceAmounts Allowed(ResourceOptions options, StorageOptions storage, HardwareProfile? profile)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(storage);
        var usableCores = profile?.Cpu.UsableCores ?? Environment.ProcessorCount;
        var usableMemoryBytes = profile?.Memory.UsableBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        var cores = usableCores * options.MaxCpuPercent / 100.0;
        var usableMemoryMB = usableMemoryBytes / (1024 * 1024);
        var memoryMB = options.MaxMemoryGb is { } gb ? (long)(gb * 1024) : (long)(usableMemoryMB * 0.8);
        Directory.CreateDirectory(storage.DataDirectory);
        var freeStorageMB = new DriveInfo(storage.DataDirectory).AvailableFreeSpace / (1024 * 1024);
        var storageMB = options.MaxStorageGb is { } sgb ? (long)(sgb * 1024) : freeStorageMB / 2;
        return new ResourceAmounts(Math.Round(cores, 2), memoryMB, storageMB, 0, 0);
    }
}
