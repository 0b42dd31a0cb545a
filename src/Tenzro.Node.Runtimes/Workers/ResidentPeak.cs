using System.Globalization;

namespace Tenzro.Node.Runtimes.Workers;

/// <summary>
/// What one job added to a worker's resident memory at its peak: the kernel's high-water mark (<c>VmHWM</c>) reset
/// as the job starts (<c>/proc/self/clear_refs</c>, value 5) and read as it ends, less the resident memory the worker
/// had at rest before it (<c>VmRSS</c>). The cost model learns a model's memory from it.
/// </summary>
/// <remarks>Linux only; elsewhere, or where the files cannot be written or read, there is no figure (null).</remarks>
internal static class ResidentPeak
{
    private const string Status = "/proc/self/status";

    /// <summary>Resets the high-water mark and returns the resident bytes at rest now; null where either cannot be done.</summary>
    public static long? Start()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return Field("VmRSS:");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>The high-water mark since <see cref="Start"/> less what it returned (<paramref name="atRest"/>), at least 0; null without either.</summary>
    public static long? Added(long? atRest)
    {
        try
        {
            return atRest is { } rest && Field("VmHWM:") is { } peak ? Math.Max(0, peak - rest) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>A <c>kB</c> field of <c>/proc/self/status</c>, in bytes.</summary>
    private static long? Field(string name)
    {
        foreach (var line in File.ReadLines(Status))
        {
            if (line.StartsWith(name, StringComparison.Ordinal))
            {
                var value = line.AsSpan(name.Length).Trim();
                var space = value.IndexOf(' ');
                return long.TryParse(space < 0 ? value : value[..space], NumberStyles.None, CultureInfo.InvariantCulture, out var kB) ? kB * 1024 : null;
            }
        }

        return null;
    }
}
