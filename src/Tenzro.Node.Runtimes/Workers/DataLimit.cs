using System.Globalization;
using System.Runtime.InteropServices;

namespace Tenzro.Node.Runtimes.Workers;

/// <summary>
/// The worker's own <c>RLIMIT_DATA</c>: what a job may add to the process's private writable memory (heap,
/// anonymous mappings, thread stacks), used where the node cannot give the worker a cgroup memory limit. Never
/// <c>RLIMIT_AS</c>, which would count the address space .NET and ONNX Runtime reserve without using it.
/// </summary>
/// <remarks>Called by the worker's single request loop only.</remarks>
internal static class DataLimit
{
    private const int RlimitData = 2;

    /// <summary>The process's private writable memory now (<c>VmData</c>), or null where it cannot be read.</summary>
    public static long? DataBytes()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmData:", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line["VmData:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// Lets the process grow by at most <paramref name="extraBytes"/> of private writable memory from now until the
    /// returned object is disposed (which restores the previous limit); null where the limit cannot be set.
    /// </summary>
    public static IDisposable? Hold(long extraBytes)
    {
        if (DataBytes() is not { } now || GetRLimit(RlimitData, out var previous) != 0)
        {
            return null;
        }

        var limit = new RLimit { Current = (ulong)Math.Max(0, now + extraBytes), Maximum = previous.Maximum };
        limit.Current = Math.Min(limit.Current, previous.Maximum);
        return SetRLimit(RlimitData, ref limit) == 0 ? new Restore(previous) : null;
    }

    [DllImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int GetRLimit(int resource, out RLimit limit);

    [DllImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SetRLimit(int resource, ref RLimit limit);

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    private sealed class Restore(RLimit previous) : IDisposable
    {
        private RLimit _previous = previous;

        public void Dispose() => _ = SetRLimit(RlimitData, ref _previous);
    }
}
