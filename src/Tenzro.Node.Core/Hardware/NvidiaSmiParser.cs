using System.Globalization;
using System.Text.RegularExpressions;

namespace Tenzro.Node.Core.Hardware;

/// <summary>Parses nvidia-smi output. Pure: no process or file access.</summary>
public static partial class NvidiaSmiParser
{
    /// <summary>The arguments of the query whose output <see cref="ParseQuery"/> reads.</summary>
    public static readonly IReadOnlyList<string> QueryArguments =
        ["--query-gpu=name,memory.total,driver_version,pci.bus_id", "--format=csv,noheader,nounits"];

    /// <summary>
    /// Parses <c>nvidia-smi --query-gpu=name,memory.total,driver_version[,pci.bus_id] --format=csv,noheader,nounits</c>:
    /// one GPU a line, memory in MiB. A memory figure nvidia-smi cannot give ("[N/A]") becomes null.
    /// </summary>
    public static IReadOnlyList<GpuProfile> ParseQuery(string csv, string? cudaVersion = null)
    {
        ArgumentNullException.ThrowIfNull(csv);
        var gpus = new List<GpuProfile>();
        foreach (var line in csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var fields = line.Split(',').Select(f => f.Trim()).ToList();
            string? busId = null;
            if (fields.Count >= 4 && PciAddress.TryNormalize(fields[^1], out var normalized))
            {
                busId = normalized;
                fields.RemoveAt(fields.Count - 1);
            }

            if (fields.Count < 3)
            {
                continue;
            }

            // A name with a comma in it spreads over several fields; the last two are always memory and driver.
            var name = string.Join(", ", fields.Take(fields.Count - 2));
            long? memory = double.TryParse(fields[^2], NumberStyles.Float, CultureInfo.InvariantCulture, out var mib) && mib > 0
                ? (long)(mib * 1024 * 1024)
                : null;
            gpus.Add(new GpuProfile
            {
                Vendor = "NVIDIA",
                Name = name,
                MemoryBytes = memory,
                Driver = "nvidia",
                DriverVersion = NullIfUnavailable(fields[^1]),
                CudaVersion = cudaVersion,
                BusId = busId,
                Source = "nvidia-smi",
                Usable = true,
            });
        }

        return gpus;
    }

    /// <summary>The "CUDA Version: 12.4" of the plain <c>nvidia-smi</c> banner; null when absent.</summary>
    public static string? ParseCudaVersion(string banner)
    {
        ArgumentNullException.ThrowIfNull(banner);
        var match = CudaVersionPattern().Match(banner);
        return match.Success ? match.Groups[1].Value : null;
    }

    private static string? NullIfUnavailable(string value) =>
        value.Length == 0 || value.StartsWith('[') ? null : value;

    [GeneratedRegex(@"CUDA Version:\s*([0-9]+(?:\.[0-9]+)*)")]
    private static partial Regex CudaVersionPattern();
}

/// <summary>PCI addresses in one spelling, <c>dddd:bb:dd.f</c> lowercase, so adapters found by different tools can be matched.</summary>
public static partial class PciAddress
{
    /// <summary>Accepts <c>00000000:18:00.0</c> (nvidia-smi), <c>0000:18:00.0</c> (sysfs, lspci -D) and <c>18:00.0</c> (lspci).</summary>
    public static bool TryNormalize(string text, out string address)
    {
        ArgumentNullException.ThrowIfNull(text);
        var match = Pattern().Match(text.Trim());
        if (!match.Success)
        {
            address = "";
            return false;
        }

        var domain = match.Groups[1].Success ? int.Parse(match.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture) : 0;
        address = string.Create(CultureInfo.InvariantCulture, $"{domain:x4}:{match.Groups[2].Value.ToLowerInvariant()}:{match.Groups[3].Value.ToLowerInvariant()}.{match.Groups[4].Value}");
        return true;
    }

    [GeneratedRegex(@"^(?:([0-9A-Fa-f]{1,8}):)?([0-9A-Fa-f]{2}):([0-9A-Fa-f]{2})\.([0-7])$")]
    private static partial Regex Pattern();
}
