using System.Globalization;
using System.Runtime;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Optimization;

namespace Tenzro.Node.Hosting;

/// <summary>
/// The .NET garbage collector the node runs with, as a listed choice. The mode is fixed when the process starts (the
/// build asks for the workstation, non-concurrent collector, which keeps the resident set small); the runtime itself
/// sizes the heap limit from the container's memory limit. <c>DOTNET_gcServer=1</c> in the environment switches to the
/// server collector (a heap per core: more throughput on many cores, more memory).
/// </summary>
internal sealed class GcChoice : IOptimizationSource
{
    public IEnumerable<OptimizationChoice> Choices()
    {
        var info = GC.GetGCMemoryInfo();
        var mode = $"{(GCSettings.IsServerGC ? "server" : "workstation")}, {GCSettings.LatencyMode}";
        yield return new OptimizationChoice(
            "dotnetGc",
            JsonValue.Create(mode),
            string.Create(
                CultureInfo.InvariantCulture,
                $"{Environment.ProcessorCount} cores seen by the runtime; heap limit {info.TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024):0.#} GB (the container's memory limit where there is one)"),
            "DOTNET_gcServer");
    }
}
