using System.Globalization;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Optimization;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>
/// The compiled-module cache as a tuned choice: its disk budget from the free space on DATA_DIR's disk
/// (<c>WASM_CACHE_MB</c> overrides it), and how it has served since start.
/// </summary>
/// <remarks>Thread-safe (reads the cache's counters).</remarks>
internal sealed class WasmCacheChoice(WasmModuleCache cache, string diskReason) : IOptimizationSource
{
    public const long MinDiskMB = 64;
    public const long MaxDiskMB = 1024;

    /// <summary>The disk budget in MB: <c>WASM_CACHE_MB</c> when set, else <see cref="DiskRule"/> on the free space under <paramref name="directory"/>.</summary>
    public static WasmCacheBudget DiskBudget(TaskOptions options, string directory)
    {
        if (options.WasmCacheMB is { } configured)
        {
            return new(configured, "WASM_CACHE_MB is set");
        }

        long freeMB;
        try
        {
            freeMB = new DriveInfo(Path.GetFullPath(directory)).AvailableFreeSpace / (1024 * 1024);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return new(MinDiskMB, $"the free space of {directory} could not be read ({e.Message}); the smallest budget");
        }

        return DiskRule(freeMB);
    }

    /// <summary>
    /// 1 % of the free space on the disk at start, 64 MB to 1 GB: compiled modules are a cache outside every task's
    /// storage reservation, so they take a small share of what is free; a module is a few MB, so 64 MB keeps dozens.
    /// </summary>
    public static WasmCacheBudget DiskRule(long freeMB)
    {
        var mb = Math.Clamp(freeMB / 100, MinDiskMB, MaxDiskMB);
        return new(mb, string.Create(CultureInfo.InvariantCulture, $"1 % of the {freeMB} MB free on DATA_DIR's disk at start, {MinDiskMB}-{MaxDiskMB} MB"));
    }

    public IEnumerable<OptimizationChoice> Choices()
    {
        yield return new OptimizationChoice(
            "wasmModuleCache",
            JsonValue.Create(string.Create(CultureInfo.InvariantCulture, $"{cache.Directory}: {cache.DiskCapacityBytes / (1024 * 1024)} MB on disk, {WasmDefaults.MemoryCacheModules} modules in memory")),
            string.Create(
                CultureInfo.InvariantCulture,
                $"{diskReason}; compiled modules kept by the sha256 of their binary, so that neither a second run nor a restart compiles again; since start {cache.MemoryHits} found in memory, {cache.DiskHits} loaded from disk, {cache.Compilations} compiled"),
            "WASM_CACHE_MB");
    }
}

/// <summary>The compiled-module cache's disk budget in MB, and the figures or the setting it came from.</summary>
internal sealed record WasmCacheBudget(long MB, string Reason);
