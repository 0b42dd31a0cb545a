using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Core.Resources;

/// <summary>
/// What the network may reserve on this machine: the usable capacity (the .NET runtime already applies
/// cgroup CPU quotas to <see cref="Environment.ProcessorCount"/> and memory limits to
/// <see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>) scaled by the operator's MAX_* settings.
/// </summary>
public static class SystemCapacity
{
    public static ResourceAmounts Allowed(ResourceOptions options, StorageOptions storage)
    {
        var cores = Environment.ProcessorCount * options.MaxCpuPercent / 100.0;
        var usableMemoryMB = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024 * 1024);
        var memoryMB = options.MaxMemoryGb is { } gb ? (long)(gb * 1024) : (long)(usableMemoryMB * 0.8);
        Directory.CreateDirectory(storage.DataDirectory);
        var freeStorageMB = new DriveInfo(storage.DataDirectory).AvailableFreeSpace / (1024 * 1024);
        var storageMB = options.MaxStorageGb is { } sgb ? (long)(sgb * 1024) : freeStorageMB / 2;
        return new ResourceAmounts(Math.Round(cores, 2), memoryMB, storageMB, 0, 0);
    }
}
