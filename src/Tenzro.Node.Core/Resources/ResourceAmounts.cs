using System.Text.Json.Nodes;

namespace Tenzro.Node.Core.Resources;

/// <summary>
/// Amounts of the five resources: what a task asks for (its <c>requirements</c>), what the ledger reserves,
/// allows and has free, and what a node record announces as free. The one type for this shape.
/// </summary>
public sealed record ResourceAmounts(double Cpu, long MemoryMB, long StorageMB, int GpuCount, long GpuMemoryMB)
{
    /// <summary>No limit in any resource, for a cap that restricts only some of them.</summary>
    public static ResourceAmounts Unlimited { get; } = new(double.MaxValue, long.MaxValue, long.MaxValue, int.MaxValue, long.MaxValue);

    /// <summary>Nothing of any resource.</summary>
    public static ResourceAmounts None { get; } = new(0, 0, 0, 0, 0);

    /// <summary>What a task asks for when its <c>requirements</c> leave a resource out (CONTRACTS.md "Task").</summary>
    public static ResourceAmounts TaskDefault { get; } = new(1, 256, 0, 0, 0);

    public ResourceAmounts Minus(ResourceAmounts other) =>
        new(Cpu - other.Cpu, MemoryMB - other.MemoryMB, StorageMB - other.StorageMB, GpuCount - other.GpuCount, GpuMemoryMB - other.GpuMemoryMB);

    public ResourceAmounts Plus(ResourceAmounts other) =>
        new(Cpu + other.Cpu, MemoryMB + other.MemoryMB, StorageMB + other.StorageMB, GpuCount + other.GpuCount, GpuMemoryMB + other.GpuMemoryMB);

    /// <summary>The smaller of the two amounts in each resource.</summary>
    public ResourceAmounts Min(ResourceAmounts other) =>
        new(Math.Min(Cpu, other.Cpu), Math.Min(MemoryMB, other.MemoryMB), Math.Min(StorageMB, other.StorageMB), Math.Min(GpuCount, other.GpuCount), Math.Min(GpuMemoryMB, other.GpuMemoryMB));

    /// <summary>True when <paramref name="request"/> fits in this amount in every resource.</summary>
    public bool Fits(ResourceAmounts request) => !Shortfalls(request).Any();

    /// <summary>Each resource of <paramref name="request"/> that is above this amount: (name, asked, available).</summary>
    public IEnumerable<(string Resource, double Asked, double Available)> Shortfalls(ResourceAmounts request)
    {
        // A small epsilon keeps fractional CPU sums (0.1 + 0.2) from refusing an exact fit.
        if (request.Cpu > Cpu + 1e-9)
        {
            yield return ("cpu", request.Cpu, Cpu);
        }

        if (request.MemoryMB > MemoryMB)
        {
            yield return ("memoryMB", request.MemoryMB, MemoryMB);
        }

        if (request.StorageMB > StorageMB)
        {
            yield return ("storageMB", request.StorageMB, StorageMB);
        }

        if (request.GpuCount > GpuCount)
        {
            yield return ("gpuCount", request.GpuCount, GpuCount);
        }

        if (request.GpuMemoryMB > GpuMemoryMB)
        {
            yield return ("gpuMemoryMB", request.GpuMemoryMB, GpuMemoryMB);
        }
    }

    /// <summary>
    /// The figures rounded down to steps (half a core, 256 MB of memory and GPU memory, 1 GB of storage), as a
    /// node record announces them: the small moves of every sample then do not count as a change of the record.
    /// </summary>
    public ResourceAmounts Coarse() => new(
        Math.Floor(Math.Max(0, Cpu) * 2) / 2,
        Math.Max(0, MemoryMB) / 256 * 256,
        Math.Max(0, StorageMB) / 1024 * 1024,
        Math.Max(0, GpuCount),
        Math.Max(0, GpuMemoryMB) / 256 * 256);

    /// <summary>
    /// The JSON shape every API and message uses: <c>cpu</c> (or <paramref name="cpuName"/>: node records and
    /// pooled capacity say <c>cpuCores</c>, CONTRACTS.md "Node record"), <c>memoryMB</c>, <c>storageMB</c>,
    /// <c>gpuCount</c>, <c>gpuMemoryMB</c>.
    /// </summary>
    public JsonObject ToJson(string cpuName = CpuName) => new()
    {
        [cpuName] = Cpu,
        ["memoryMB"] = MemoryMB,
        ["storageMB"] = StorageMB,
        ["gpuCount"] = GpuCount,
        ["gpuMemoryMB"] = GpuMemoryMB,
    };

    /// <summary>
    /// Reads <see cref="ToJson"/>'s shape (the stored form of a task's requirements, a received node record's
    /// <c>free</c>); a member left out is 0. Throws
    /// <see cref="FormatException"/> on a member that is not a number.
    /// </summary>
    public static ResourceAmounts FromJson(JsonObject json, string cpuName = CpuName)
    {
        double Read(string name) => json[name] switch
        {
            null => 0,
            { } node when node.GetValueKind() == System.Text.Json.JsonValueKind.Number => Json.JsonFields.NumberOf(node),
            _ => throw new FormatException($"resource amounts: {name} is not a number"),
        };

        return new(Read(cpuName), (long)Read("memoryMB"), (long)Read("storageMB"), (int)Read("gpuCount"), (long)Read("gpuMemoryMB"));
    }

    /// <summary>The name of the CPU member in most shapes.</summary>
    public const string CpuName = "cpu";

    /// <summary>The name of the CPU member in node records and pooled capacity.</summary>
    public const string CpuCoresName = "cpuCores";
}
