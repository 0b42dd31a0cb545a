using System.Text.Json.Nodes;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Networking.Aggregation;

/// <summary>The <c>pooled</c> figures of <c>/api/aggregation</c>: the sum of the live members' free resources and the union of their capabilities.</summary>
/// <remarks>Not thread-safe: built and read by one caller.</remarks>
internal sealed class PooledCapacity
{
    private readonly SortedSet<string> _capabilities = new(StringComparer.Ordinal);
    private double _cpu;
    private long _memory;
    private long _storage;
    private int _gpus;
    private long _gpuMemory;

    public void Add(NodeRecord record)
    {
        var free = record.Content.Free;
        _cpu += free.CpuCores;
        _memory += free.MemoryMB;
        _storage += free.StorageMB;
        _gpus += free.GpuCount;
        _gpuMemory += free.GpuMemoryMB;
        _capabilities.UnionWith(record.Content.Capabilities);
    }

    public JsonObject ToJson() => new()
    {
        ["cpuCores"] = Math.Round(_cpu, 2),
        ["memoryMB"] = _memory,
        ["storageMB"] = _storage,
        ["gpuCount"] = _gpus,
        ["gpuMemoryMB"] = _gpuMemory,
        ["capabilities"] = new JsonArray([.. _capabilities.Select(c => (JsonNode)c)]),
    };

    public static JsonObject Free(FreeResources free) => new()
    {
        ["cpuCores"] = free.CpuCores,
        ["memoryMB"] = free.MemoryMB,
        ["storageMB"] = free.StorageMB,
        ["gpuCount"] = free.GpuCount,
        ["gpuMemoryMB"] = free.GpuMemoryMB,
    };
}
