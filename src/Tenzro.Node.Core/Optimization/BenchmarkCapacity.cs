using System.Text.Json.Nodes;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Core.Optimization;

/// <summary>
/// What this node can compute for the network, by speed rather than by cores, for <c>node_status</c>: the benchmarked
/// integer operations a second of all cores scaled to the share of the usable cores the network may reserve now, the
/// single-core figure (what one task runs at), and the GPU's GFLOP/s where one works.
/// </summary>
public static class BenchmarkCapacity
{
    /// <summary>The capacity object; null before the benchmarks ran (or were read from the store).</summary>
    public static JsonObject? Of(HardwareProfile profile, ResourceAmounts? allowed)
    {
        ArgumentNullException.ThrowIfNull(profile);
        if (!profile.Benchmarks.TryGetValue("cpuIntegerAllCores", out var allCores) || !profile.Benchmarks.TryGetValue("cpuIntegerSingleCore", out var singleCore))
        {
            return null;
        }

        // The all-cores figure was measured under the cgroup quota, so it already stands for the usable cores.
        var share = allowed is null || profile.Cpu.UsableCores <= 0 ? 1 : Math.Clamp(allowed.Cpu / profile.Cpu.UsableCores, 0, 1);
        return new JsonObject
        {
            ["cpuOpsPerSecond"] = Math.Round(allCores.Value * share),
            ["singleCoreOpsPerSecond"] = Math.Round(singleCore.Value),
            ["gpuGflops"] = profile.Benchmarks.TryGetValue("gpuMatMul", out var gpu) ? Math.Round(gpu.Value, 1) : null,
        };
    }
}
