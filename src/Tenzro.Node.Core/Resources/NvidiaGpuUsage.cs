using System.Globalization;
using Tenzro.Node.Core.Hardware;

namespace Tenzro.Node.Core.Resources;

/// <summary>
/// Live utilization and memory of NVIDIA GPUs from <c>nvidia-smi --query-gpu</c>, for the resource sampler.
/// Queried only when the hardware profile found an NVIDIA GPU; a tool that hangs is killed at its timeout
/// and the sample reports no GPU figures rather than stalling.
/// </summary>
public sealed class NvidiaGpuUsage(IToolRunner tools)
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public IReadOnlyList<GpuUsage> Read()
    {
        var result = tools.RunAsync("nvidia-smi", ["--query-gpu=name,utilization.gpu,memory.used,memory.total", "--format=csv,noheader,nounits"], Timeout, CancellationToken.None)
            .GetAwaiter().GetResult();
        return result.Outcome == ToolOutcome.Ok ? Parse(result.Output) : [];
    }

    /// <summary>Parses lines like <c>NVIDIA H100 80GB HBM3, 37, 1024, 81559</c> (percent, MiB, MiB).</summary>
    public static IReadOnlyList<GpuUsage> Parse(string csv)
    {
        var gpus = new List<GpuUsage>();
        foreach (var line in csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var fields = line.Split(',', StringSplitOptions.TrimEntries);
            if (fields.Length < 4)
            {
                continue;
            }

            _ = double.TryParse(fields[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var utilization);
            _ = long.TryParse(fields[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var usedMiB);
            _ = long.TryParse(fields[3], NumberStyles.Integer, CultureInfo.InvariantCulture, out var totalMiB);
            gpus.Add(new GpuUsage(fields[0], utilization, usedMiB * 1024 * 1024, totalMiB * 1024 * 1024));
        }

        return gpus;
    }
}
