using System.Buffers.Text;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Tenzro.Node.Core.Resources;

/// <summary>
/// The calling thread's CPU time (the kernel's thread CPU clock, to the nanosecond) and id (from
/// <c>/proc/thread-self/stat</c>) on Linux, and a CPU quota for one
/// thread, or for one worker process, in a cgroup v1 <c>cpu</c> group beneath the node's own, where the node may make one.
/// </summary>
/// <remarks>Thread-safe. On a system without these files the time is unknown (null) and no quota can be set.</remarks>
public static class ThreadCpu
{
    private const long PeriodMicroseconds = 100_000;
    private const long MinQuotaMicroseconds = 1_000;

    /// <summary>USER_HZ: the unit of utime and stime in <c>/proc/*/stat</c>; 100 on every Linux the node supports.</summary>
    private const double TicksPerSecond = 100;

    private static readonly Lazy<string?> NodeGroup = new(FindNodeGroup);
    private static long _sequence;

    /// <summary>True when a thread can be held to a fraction of a core here (see <see cref="Limit"/>).</summary>
    public static bool CanLimit => NodeGroup.Value is not null;

    /// <summary>The CPU time the calling thread has used (user and system), or null where it cannot be read.</summary>
    public static TimeSpan? Current()
    {
        // CLOCK_THREAD_CPUTIME_ID: one call, no file, and nanoseconds where /proc counts in hundredths of a second.
        if (OperatingSystem.IsLinux() && ClockGetTime(ClockThreadCpuTime, out var now) == 0)
        {
            return TimeSpan.FromTicks((now.Seconds * TimeSpan.TicksPerSecond) + (now.Nanoseconds / TimeSpan.NanosecondsPerTick));
        }

        return Read() is { Ticks: { } ticks } ? FromTicks(ticks) : null;
    }

    /// <summary>Clock ticks of <c>/proc/*/stat</c> (USER_HZ) as a time.</summary>
    public static TimeSpan FromTicks(long ticks) => TimeSpan.FromSeconds(ticks / TicksPerSecond);

    /// <summary>
    /// utime + stime (fields 14 and 15, in clock ticks) of a <c>/proc/PID/stat</c> or <c>/proc/PID/task/TID/stat</c>
    /// line, read in place; null if it is not one.
    /// </summary>
    public static long? CpuTicks(ReadOnlySpan<byte> stat)
    {
        // "pid (comm) state ppid …": comm may hold spaces and parentheses, so fields are counted after the last ')'.
        var end = stat.LastIndexOf((byte)')');
        if (end < 0)
        {
            return null;
        }

        var rest = stat[(end + 1)..];
        long utime = 0;
        for (var field = 3; field <= 15; field++)
        {
            rest = rest.TrimStart((byte)' ');
            var space = rest.IndexOf((byte)' ');
            var value = space < 0 ? rest : rest[..space];
            if (field >= 14)
            {
                if (!Utf8Parser.TryParse(value, out long ticks, out var used) || used != value.Length)
                {
                    return null;
                }

                if (field == 15)
                {
                    return utime + ticks;
                }

                utime = ticks;
            }

            if (space < 0)
            {
                return null;
            }

            rest = rest[space..];
        }

        return null;
    }

    private const int ClockThreadCpuTime = 3;

    [DllImport("libc", EntryPoint = "clock_gettime", ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>
    /// Holds the calling thread to <paramref name="cores"/> of a core (a cgroup v1 CPU quota) until the returned
    /// object is disposed, on the same thread. Returns null when <paramref name="cores"/> is 1 or more (one thread
    /// cannot use more) or no group can be made.
    /// </summary>
    public static IDisposable? Limit(double cores)
    {
        if (cores >= 1 || NodeGroup.Value is not { } parent || Read() is not { ThreadId: var threadId })
        {
            return null;
        }

        return Hold(parent, "tasks", threadId, cores);
    }

    /// <summary>
    /// Holds process <paramref name="pid"/> (a worker, all its threads) to <paramref name="cores"/> cores until the
    /// returned object is disposed, which moves it back to the node's group. Returns null when
    /// <paramref name="cores"/> is a whole number (the worker's threads, as many as the cores reserved, already
    /// bound it) or no group can be made; when the kernel refuses a write where groups can be made,
    /// <paramref name="refused"/> is told which write and why.
    /// </summary>
    public static IDisposable? LimitProcess(int pid, double cores, Action<string>? refused = null)
    {
        if (cores <= 0 || cores == Math.Floor(cores) || NodeGroup.Value is not { } parent)
        {
            return null;
        }

        return Hold(parent, "cgroup.procs", pid, cores, refused);
    }

    /// <summary>Makes a group beneath <paramref name="parent"/> with a quota of <paramref name="cores"/> and moves <paramref name="id"/> into it through <paramref name="members"/> (<c>tasks</c> for a thread, <c>cgroup.procs</c> for a process).</summary>
    private static Quota? Hold(string parent, string members, int id, double cores, Action<string>? refused = null)
    {
        var group = Path.Combine(parent, $"tenzro-{Environment.ProcessId}-{Interlocked.Increment(ref _sequence)}");
        var step = "mkdir " + group;
        try
        {
            Directory.CreateDirectory(group);
            var quota = Math.Max(MinQuotaMicroseconds, (long)Math.Ceiling(cores * PeriodMicroseconds));
            foreach (var (file, value) in new[] { ("cpu.cfs_period_us", PeriodMicroseconds), ("cpu.cfs_quota_us", quota), (members, id) })
            {
                step = $"write {value} to {Path.Combine(group, file)}";
                File.WriteAllText(Path.Combine(group, file), value.ToString(CultureInfo.InvariantCulture));
            }

            return new Quota(parent, group, members, id);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            refused?.Invoke($"{step}: {e.Message}");
            TryRemove(group);
            return null;
        }
    }

    private static void TryRemove(string group)
    {
        try
        {
            Directory.Delete(group);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A group still holding a thread cannot be removed; an empty one left behind costs nothing.
        }
    }

    /// <summary>The node's own cgroup v1 cpu group, if the node may make groups in it (probed once).</summary>
    private static string? FindNodeGroup()
    {
        try
        {
            var line = File.ReadLines("/proc/self/cgroup")
                .Select(l => l.Split(':', 3))
                .FirstOrDefault(p => p.Length == 3 && p[1].Split(',').Contains("cpu"));
            if (line is null)
            {
                return null;
            }

            foreach (var mount in new[] { "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct" })
            {
                var own = Path.Join(mount, line[2]);
                if (!File.Exists(Path.Combine(own, "cpu.cfs_quota_us")))
                {
                    continue;
                }

                RemoveLeftovers(own);
                var probe = Path.Combine(own, $"tenzro-{Environment.ProcessId}-probe");
                Directory.CreateDirectory(probe);
                var usable = File.Exists(Path.Combine(probe, "tasks"));
                Directory.Delete(probe);
                return usable ? own : null;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// <summary>Removes the groups of node processes that ended without removing theirs (killed mid-task); they hold no thread.</summary>
    private static void RemoveLeftovers(string parent)
    {
        foreach (var group in Directory.EnumerateDirectories(parent, "tenzro-*"))
        {
            var parts = Path.GetFileName(group).Split('-');
            if (parts.Length == 3 && int.TryParse(parts[1], CultureInfo.InvariantCulture, out var pid) && !Directory.Exists($"/proc/{pid}"))
            {
                TryRemove(group);
            }
        }
    }

    /// <summary>The calling thread's id and CPU ticks (<see cref="CpuTicks"/>), from <c>/proc/thread-self/stat</c>.</summary>
    private static (int ThreadId, long? Ticks)? Read()
    {
        byte[] text;
        try
        {
            text = File.ReadAllBytes("/proc/thread-self/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        return Utf8Parser.TryParse(text, out int threadId, out _) ? (threadId, CpuTicks(text)) : null;
    }

    private sealed class Quota(string parent, string group, string members, int id) : IDisposable
    {
        public void Dispose()
        {
            try
            {
                File.WriteAllText(Path.Combine(parent, members), id.ToString(CultureInfo.InvariantCulture));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }

            TryRemove(group);
        }
    }
}
