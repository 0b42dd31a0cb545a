using System.Globalization;

namespace Tenzro.Node.Core.Hardware;

/// <summary>Memory figures of /proc/meminfo, in bytes.</summary>
/// <param name="TotalBytes">MemTotal.</param>
/// <param name="AvailableBytes">MemAvailable; on kernels before 3.14, MemFree + Buffers + Cached.</param>
/// <param name="SwapTotalBytes">SwapTotal.</param>
/// <param name="SwapFreeBytes">SwapFree.</param>
public sealed record MemInfo(long TotalBytes, long AvailableBytes, long SwapTotalBytes, long SwapFreeBytes);

/// <summary>Parses the text of /proc/meminfo. Pure: no file access.</summary>
public static class MemInfoParser
{
    /// <summary>Parses, or answers false when the text has no MemTotal line.</summary>
    public static bool TryParse(string procMeminfo, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MemInfo? info)
    {
        try
        {
            info = Parse(procMeminfo);
            return true;
        }
        catch (FormatException)
        {
            info = null;
            return false;
        }
    }

    /// <exception cref="FormatException">The text has no MemTotal line.</exception>
    public static MemInfo Parse(string procMeminfo)
    {
        ArgumentNullException.ThrowIfNull(procMeminfo);
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in procMeminfo.Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var fields = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (fields.Length == 0 || !long.TryParse(fields[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var amount))
            {
                continue;
            }

            // Every size in the file is in kibibytes, written "kB"; counters (HugePages_Total) have no unit.
            var multiplier = fields.Length > 1 && fields[1].Equals("kB", StringComparison.OrdinalIgnoreCase) ? 1024L : 1L;
            values[line[..colon].Trim()] = amount * multiplier;
        }

        if (!values.TryGetValue("MemTotal", out var total))
        {
            throw new FormatException("/proc/meminfo has no MemTotal line.");
        }

        var available = values.TryGetValue("MemAvailable", out var a)
            ? a
            : values.GetValueOrDefault("MemFree") + values.GetValueOrDefault("Buffers") + values.GetValueOrDefault("Cached");
        return new MemInfo(total, available, values.GetValueOrDefault("SwapTotal"), values.GetValueOrDefault("SwapFree"));
    }
}
