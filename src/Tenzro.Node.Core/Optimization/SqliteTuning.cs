using System.Globalization;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Core.Optimization;

/// <summary>
/// SQLite's page cache and memory map from the machine's memory: the cache is per connection (usable memory ÷ 2048,
/// 2 to 32 MB: a few dozen pooled connections stay well under 1 % of memory), the map is shared through the OS page
/// cache (usable memory ÷ 32, at most 256 MB). SQLITE_CACHE_MB and SQLITE_MMAP_MB override them.
/// </summary>
/// <remarks>Immutable; thread-safe.</remarks>
public sealed class SqliteTuning : IOptimizationSource
{
    public const long MinCacheMB = 2;
    public const long MaxCacheMB = 32;
    public const long MaxMmapMB = 256;

    private readonly string _cacheReason;
    private readonly string _mmapReason;

    /// <param name="storage">The settings.</param>
    /// <param name="usableMemoryBytes">The memory the node may use: the .NET runtime's figure, which applies the container's limit (the database opens before the hardware profile exists).</param>
    public SqliteTuning(StorageOptions storage, long usableMemoryBytes)
    {
        ArgumentNullException.ThrowIfNull(storage);
        var usableMB = Math.Max(usableMemoryBytes, 0) / (1024 * 1024);
        var usable = string.Create(CultureInfo.InvariantCulture, $"{usableMB} MB usable (the runtime's figure, the container's limit applied)");
        (CacheMB, _cacheReason) = storage.SqliteCacheMB is { } cache
            ? (cache, "SQLITE_CACHE_MB is set")
            : (Math.Clamp(usableMB / 2048, MinCacheMB, MaxCacheMB), $"{usable} ÷ 2048, {MinCacheMB}-{MaxCacheMB} MB, per connection");
        (MmapMB, _mmapReason) = storage.SqliteMmapMB is { } mmap
            ? (mmap, "SQLITE_MMAP_MB is set")
            : (Math.Min(usableMB / 32, MaxMmapMB), $"{usable} ÷ 32, at most {MaxMmapMB} MB, shared by every connection through the page cache");
    }

    public long CacheMB { get; }

    public long MmapMB { get; }

    public IEnumerable<OptimizationChoice> Choices()
    {
        yield return new OptimizationChoice("SQLITE_CACHE_MB", JsonValue.Create(CacheMB), _cacheReason, "SQLITE_CACHE_MB");
        yield return new OptimizationChoice("SQLITE_MMAP_MB", JsonValue.Create(MmapMB), _mmapReason, "SQLITE_MMAP_MB");
    }
}
