using System.Globalization;
using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Core.Hardware;

/// <summary>The minimum requirements checked before the node listens: MIN_CPU_CORES, MIN_MEMORY_GB, MIN_STORAGE_GB, GPU_REQUIRED.</summary>
public static class HardwareRequirements
{
    private const double Gb = 1024.0 * 1024 * 1024;

    /// <summary>One line per requirement the machine fails, naming the setting, what it needs and what the machine has; empty when all are met.</summary>
    public static IReadOnlyList<string> Check(HardwareOptions options, HardwareProfile profile)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(profile);
        var failures = new List<string>();
        if (profile.Cpu.UsableCores < options.MinCpuCores)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"MIN_CPU_CORES={options.MinCpuCores} needs {options.MinCpuCores} usable CPU cores; this machine has {profile.Cpu.UsableCores:0.##} ({profile.Cpu.LogicalCores} logical{Limited(profile, "cpu")})."));
        }

        if (profile.Memory.UsableBytes < options.MinMemoryGb * Gb)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"MIN_MEMORY_GB={options.MinMemoryGb:0.##} needs {options.MinMemoryGb:0.##} GB of usable memory; this machine has {profile.Memory.UsableBytes / Gb:0.##} GB{Limited(profile, "memory")}."));
        }

        if (profile.Storage.FreeBytes < options.MinStorageGb * Gb)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"MIN_STORAGE_GB={options.MinStorageGb:0.##} needs {options.MinStorageGb:0.##} GB free under DATA_DIR ({profile.Storage.Path}); it has {profile.Storage.FreeBytes / Gb:0.##} GB free."));
        }

        if (options.GpuRequired && profile.ComputeGpus().Count == 0)
        {
            var seen = profile.Gpus.Count == 0
                ? "none was found"
                : $"found {string.Join(", ", profile.Gpus.Select(g => g.Name))}, but GPU tasks cannot run: {profile.GpuCompute?.Reason ?? "no GPU runtime"}";
            failures.Add($"GPU_REQUIRED=true needs a GPU that tasks can use (an NVIDIA GPU with ONNX Runtime's CUDA provider); {seen}.");
        }

        return failures;
    }

    private static string Limited(HardwareProfile profile, string resource) =>
        profile.LimitsApplied.FirstOrDefault(l => l.Resource == resource) is { } limit ? $", limited by {limit.Mechanism}" : "";
}
