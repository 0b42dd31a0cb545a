using System.Text.Json.Nodes;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Core.Optimization;

/// <summary>
/// What this node can compute for the network, by speed rather than by cores: for <c>node_status</c>, the benchmarked
/// integer operations a second of all cores scaled to the share of the usable cores the network may reserve now, the
/// single-core figure (what one task runs at), and the GPU's GFLOP/s where one works; for the node record's free
/// figures, the same all-cores figure scaled to the free cores (<see cref="FreeCpuOpsPerSecond"/>).
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

        return new JsonObject
        {
            ["cpuOpsPerSecond"] = Math.Round(allCores.Value * Share(profile, allowed)),
            ["singleCoreOpsPerSecond"] = Math.Round(singleCore.Value),
            ["gpuGflops"] = profile.Benchmarks.TryGetValue("gpuMatMul", out var gpu) ? Math.Round(gpu.Value, 1) : null,
        };
    }

    /// <summary>
    /// The speed a node record announces beside its free figures (<c>free.cpuOpsPerSecond</c>): the all-cores figure
    /// scaled to the free cores as the record rounds them (<see cref="ResourceAmounts.Coarse"/>), kept to two significant
    /// digits, so that only a change of the coarse figures or of the machine's speed makes a new record. Null before the
    /// benchmarks ran.
    /// </summary>
    public static long? FreeCpuOpsPerSecond(HardwareProfile profile, ResourceAmounts free)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(free);
        if (!profile.Benchmarks.TryGetValue("cpuIntegerAllCores", out var allCores) || !double.IsFinite(allCores.Value) || allCores.Value <= 0)
        {
            return null;
        }

        var ops = allCores.Value * Share(profile, free.Coarse());
        if (ops < 1)
        {
            return 0;
        }

        var step = Math.Pow(10, Math.Floor(Math.Log10(ops)) - 1);
        return (long)(Math.Round(ops / step) * step);
    }

    /// <summary>The share of the usable cores in <paramref name="amounts"/>, 0 to 1 (1 when there is none to go by).</summary>
    private static double Share(HardwareProfile profile, ResourceAmounts? amounts) =>
        // The all-cores figure was measured under the cgroup quota, so it already stands for the usable cores.
        amounts is null || profile.Cpu.UsableCores <= 0 ? 1 : Math.Clamp(amounts.Cpu / profile.Cpu.UsableCores, 0, 1);
}
