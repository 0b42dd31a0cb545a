using System.Globalization;

namespace Tenzro.Node.Runtimes.Workers;

/// <summary>
/// A cgroup v1 <c>memory</c> group made beneath the node's own for one worker process, so that the worker's
/// memory is held to what its task reserved: the kernel stops (kills) the worker, and only it, when the group
/// goes over its limit. Groups exist only where the node may make them (root, or a delegated group, on a
/// cgroup v1 <c>memory</c> hierarchy); elsewhere <see cref="Create"/> returns null and the worker holds itself
/// with <see cref="DataLimit"/>.
/// </summary>
/// <remarks>Each group is used by the one task that owns its worker at a time.</remarks>
internal sealed class MemoryGroup : IDisposable
{
    private const string Prefix = "tenzro-w";
    private static readonly Lazy<string?> NodeGroup = new(FindNodeGroup);
    private static long _sequence;

    /// <summary>The limit is written in whole MiB: a job's limit that rounds to the one in force is not written again.</summary>
    private const long LimitStep = 1024 * 1024;

    private readonly string _path;
    private readonly Lazy<bool> _swapCounted;
    private long _limit = -1;

    private MemoryGroup(string path)
    {
        _path = path;
        _swapCounted = new(() => File.Exists(Path.Combine(_path, "memory.memsw.limit_in_bytes")));
    }

    /// <summary>True when this node can give workers a memory group.</summary>
    public static bool Available => NodeGroup.Value is not null;

    /// <summary>The memory charged to the group now.</summary>
    public long UsageBytes => ReadLong("memory.usage_in_bytes") ?? 0;

    /// <summary>
    /// Times the kernel's OOM killer acted in this group (the <c>oom_kill</c> line of <c>memory.oom_control</c>). A group
    /// holds one worker, which such a kill ends, so a live worker's group reads 0.
    /// </summary>
    public long OomKills
    {
        get
        {
            var text = ReadText("memory.oom_control") ?? "";
            var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("oom_kill ", StringComparison.Ordinal));
            return line is not null && long.TryParse(line["oom_kill ".Length..], CultureInfo.InvariantCulture, out var kills) ? kills : 0;
        }
    }

    /// <summary>Times the group hit its limit (<c>memory.failcnt</c>), whether or not reclaiming made room.</summary>
    public long LimitHits => ReadLong("memory.failcnt") ?? 0;

    /// <summary>Makes a group and moves <paramref name="pid"/> (every thread of it) into it; null where no group can be made.</summary>
    public static MemoryGroup? Create(int pid)
    {
        if (NodeGroup.Value is not { } parent)
        {
            return null;
        }

        var path = Path.Combine(parent, $"{Prefix}-{Environment.ProcessId}-{Interlocked.Increment(ref _sequence)}");
        try
        {
            Directory.CreateDirectory(path);
            File.WriteAllText(Path.Combine(path, "cgroup.procs"), pid.ToString(CultureInfo.InvariantCulture));
            return new MemoryGroup(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryRemove(path);
            return null;
        }
    }

    /// <summary>
    /// Holds the group to <paramref name="bytes"/> rounded up to a whole MiB (and memory plus swap to the same, where swap
    /// is counted). A limit that rounds to the one already in force is not written again: a worker's usage moves by a few
    /// pages from one job to the next, and each write to a group's limit costs the kernel's memory-group locks.
    /// </summary>
    /// <returns>False when the kernel refused the limit.</returns>
    public bool Limit(long bytes)
    {
        var rounded = (bytes + LimitStep - 1) / LimitStep * LimitStep;
        if (rounded == Interlocked.Read(ref _limit))
        {
            return true;
        }

        var value = rounded.ToString(CultureInfo.InvariantCulture);

        // memory.memsw.limit_in_bytes may never be below memory.limit_in_bytes: raise in one order, lower in the other.
        var set = _swapCounted.Value
            ? (TryWrite("memory.limit_in_bytes", value) && TryWrite("memory.memsw.limit_in_bytes", value))
                || (TryWrite("memory.memsw.limit_in_bytes", value) && TryWrite("memory.limit_in_bytes", value))
            : TryWrite("memory.limit_in_bytes", value);
        Interlocked.Exchange(ref _limit, set ? rounded : -1);
        return set;
    }

    /// <summary>Removes the group; call once its worker has exited (a group holding a process cannot be removed).</summary>
    public void Dispose() => TryRemove(_path);

    private bool TryWrite(string file, string value)
    {
        try
        {
            File.WriteAllText(Path.Combine(_path, file), value);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private long? ReadLong(string file) =>
        ReadText(file) is { } text && long.TryParse(text.Trim(), CultureInfo.InvariantCulture, out var value) ? value : null;

    private string? ReadText(string file)
    {
        try
        {
            return File.ReadAllText(Path.Combine(_path, file));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static void TryRemove(string path)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            try
            {
                Directory.Delete(path);
                return;
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The kernel lets go of a killed process's group a moment after the process is reaped.
                Thread.Sleep(10);
            }
        }
    }

    /// <summary>The node's own cgroup v1 memory group, if the node may make groups in it (probed once).</summary>
    private static string? FindNodeGroup()
    {
        try
        {
            var line = File.ReadLines("/proc/self/cgroup")
                .Select(l => l.Split(':', 3))
                .FirstOrDefault(p => p.Length == 3 && p[1].Split(',').Contains("memory"));
            if (line is null)
            {
                return null;
            }

            var own = Path.Join("/sys/fs/cgroup/memory", line[2]);
            if (!File.Exists(Path.Combine(own, "memory.limit_in_bytes")))
            {
                return null;
            }

            RemoveLeftovers(own);
            var probe = Path.Combine(own, $"{Prefix}-{Environment.ProcessId}-probe");
            Directory.CreateDirectory(probe);
            var usable = File.Exists(Path.Combine(probe, "cgroup.procs"));
            Directory.Delete(probe);
            return usable ? own : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Removes the groups of node processes that ended without removing theirs; they hold no process.</summary>
    private static void RemoveLeftovers(string parent)
    {
        foreach (var group in Directory.EnumerateDirectories(parent, $"{Prefix}-*"))
        {
            var parts = Path.GetFileName(group).Split('-');
            if (parts.Length == 4 && int.TryParse(parts[2], CultureInfo.InvariantCulture, out var pid) && !Directory.Exists($"/proc/{pid}"))
            {
                TryRemove(group);
            }
        }
    }
}
