using System.Globalization;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Optimization;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>The compiled-module cache as a tuned choice: where it is, how large, and how it has served since start.</summary>
/// <remarks>Thread-safe (reads the cache's counters).</remarks>
internal sealed class WasmCacheChoice(WasmModuleCache cache) : IOptimizationSource
{
    public IEnumerable<OptimizationChoice> Choices()
    {
        yield return new OptimizationChoice(
            "wasmModuleCache",
            JsonValue.Create(string.Create(CultureInfo.InvariantCulture, $"{cache.Directory}: {WasmDefaults.DiskCacheBytes / (1024 * 1024)} MB on disk, {WasmDefaults.MemoryCacheModules} modules in memory")),
            string.Create(
                CultureInfo.InvariantCulture,
                $"compiled modules kept by the sha256 of their binary, so that neither a second run nor a restart compiles again; since start {cache.MemoryHits} found in memory, {cache.DiskHits} loaded from disk, {cache.Compilations} compiled"),
            null);
    }
}
