using System.Globalization;

namespace Tenzro.Node.Core.Hardware;

/// <summary>One cgroup limit and the file it came from.</summary>
/// <param name="Value">Cores for a CPU quota, bytes for a memory limit.</param>
/// <param name="Mechanism">e.g. <c>cgroup2 cpu.max</c>, <c>cgroup1 memory.limit_in_bytes</c>.</param>
/// <param name="File">The file read, as a path under the root given to <see cref="CgroupLimits.Read"/>.</param>
public sealed record CgroupLimit(double Value, string Mechanism, string File);

/// <summary>
/// The CPU quota and memory limit that the cgroups of this process impose, cgroup v2 (<c>cpu.max</c>,
/// <c>memory.max</c>) and v1 (<c>cpu.cfs_quota_us</c>/<c>cpu.cfs_period_us</c>, <c>memory.limit_in_bytes</c>),
/// including hybrid systems where some controllers are on v1 and the rest on v2.
/// </summary>
/// <remarks>
/// The effective limit of a cgroup is the lowest along its path to the hierarchy root, so every level
/// from the process's cgroup up to the mount point is read and the lowest value wins.
/// </remarks>
/// <param name="Cpu">The CPU quota in cores; null when unlimited.</param>
/// <param name="Memory">The memory limit in bytes; null when unlimited.</param>
/// <param name="MemoryUsageBytes">Memory charged to the process's cgroup (memory.current or memory.usage_in_bytes); null when unknown.</param>
public sealed record CgroupLimits(CgroupLimit? Cpu, CgroupLimit? Memory, long? MemoryUsageBytes)
{
    /// <summary>v1 writes "no limit" as a page-rounded <see cref="long.MaxValue"/>; anything this large is no limit.</summary>
    private const long UnlimitedThreshold = 1L << 62;

    public static CgroupLimits None { get; } = new(null, null, null);

    /// <summary>
    /// Reads <c>{root}/proc/self/cgroup</c>, <c>{root}/proc/self/mountinfo</c> and the cgroup files under
    /// <c>{root}</c>; <paramref name="root"/> is <c>/</c> on a real system and a fixture tree in tests.
    /// Missing or unreadable files mean "no limit".
    /// </summary>
    public static CgroupLimits Read(string root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var membership = ReadText(root, "/proc/self/cgroup");
        var mountinfo = ReadText(root, "/proc/self/mountinfo");
        if (membership is null || mountinfo is null)
        {
            return None;
        }

        var mounts = MountInfo.Parse(mountinfo);
        var groups = ParseMembership(membership);
        CgroupLimit? cpu = null, memory = null;
        long? usage = null;

        if (groups.TryGetValue("", out var unifiedPath) && mounts.LastOrDefault(m => m.FilesystemType == "cgroup2") is { } unified)
        {
            var levels = Levels(root, unified, unifiedPath);
            cpu = Lowest(cpu, levels.Select(dir => ReadCpuMax(root, dir)));
            memory = Lowest(memory, levels.Select(dir => ReadBytes(root, dir, "memory.max", "cgroup2 memory.max")));
            usage ??= levels.Count > 0 ? ReadLong(root, Path.Combine(levels[0], "memory.current")) : null;
        }

        if (V1Levels(root, mounts, groups, "cpu") is { } cpuLevels)
        {
            cpu = Lowest(cpu, cpuLevels.Select(dir => ReadCfsQuota(root, dir)));
        }

        if (V1Levels(root, mounts, groups, "memory") is { } memoryLevels)
        {
            memory = Lowest(memory, memoryLevels.Select(dir => ReadBytes(root, dir, "memory.limit_in_bytes", "cgroup1 memory.limit_in_bytes")));
            usage ??= memoryLevels.Count > 0 ? ReadLong(root, Path.Combine(memoryLevels[0], "memory.usage_in_bytes")) : null;
        }

        return new CgroupLimits(cpu, memory, usage);
    }

    /// <summary>Parses a cgroup v2 <c>cpu.max</c> line ("max 100000" or "200000 100000") into cores; null when unlimited.</summary>
    public static double? ParseCpuMax(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var fields = text.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (fields.Length == 0 || fields[0] == "max" || !long.TryParse(fields[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var quota))
        {
            return null;
        }

        var period = fields.Length > 1 && long.TryParse(fields[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) ? p : 100_000;
        return quota > 0 && period > 0 ? (double)quota / period : null;
    }

    /// <summary>Controller list → cgroup path, from /proc/self/cgroup ("4:memory:/a/b"; v2 is "0::/a/b" under the key "").</summary>
    private static Dictionary<string, string> ParseMembership(string text)
    {
        var groups = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var first = line.IndexOf(':', StringComparison.Ordinal);
            var second = first < 0 ? -1 : line.IndexOf(':', first + 1);
            if (second < 0)
            {
                continue;
            }

            var controllers = line[(first + 1)..second];
            var path = line[(second + 1)..];
            if (controllers.Length == 0)
            {
                groups[""] = path;
                continue;
            }

            foreach (var controller in controllers.Split(','))
            {
                groups[controller] = path;
            }
        }

        return groups;
    }

    private static List<string>? V1Levels(string root, IReadOnlyList<MountEntry> mounts, Dictionary<string, string> groups, string controller)
    {
        if (!groups.TryGetValue(controller, out var path))
        {
            return null;
        }

        var mount = mounts.LastOrDefault(m => m.FilesystemType == "cgroup" && m.SuperOptions.Contains(controller));
        return mount is null ? null : Levels(root, mount, path);
    }

    /// <summary>The directories from the process's cgroup up to the mount point, as absolute paths under the real root (leaf first).</summary>
    private static List<string> Levels(string root, MountEntry mount, string cgroupPath)
    {
        // Inside a cgroup namespace, or when the mount root is the process's own cgroup, the path may not
        // lie under the mount root; the mount point is then the process's cgroup.
        var relative = cgroupPath == mount.Root
            ? ""
            : mount.Root == "/" ? cgroupPath.TrimStart('/')
            : cgroupPath.StartsWith(mount.Root + "/", StringComparison.Ordinal) ? cgroupPath[(mount.Root.Length + 1)..]
            : "";
        if (relative.Split('/').Contains(".."))
        {
            relative = "";
        }

        var levels = new List<string>();
        var current = relative.Length == 0 ? mount.MountPoint : mount.MountPoint.TrimEnd('/') + "/" + relative.TrimEnd('/');
        while (true)
        {
            if (Directory.Exists(SysFs.Under(root, current)))
            {
                levels.Add(current);
            }

            if (current.Length <= mount.MountPoint.Length)
            {
                break;
            }

            var slash = current.LastIndexOf('/');
            current = slash <= 0 ? "/" : current[..slash];
        }

        return levels;
    }

    private static CgroupLimit? ReadCpuMax(string root, string dir)
    {
        var file = Path.Combine(dir, "cpu.max");
        return ReadText(root, file) is { } text && ParseCpuMax(text) is { } cores ? new CgroupLimit(cores, "cgroup2 cpu.max", file) : null;
    }

    private static CgroupLimit? ReadCfsQuota(string root, string dir)
    {
        var quotaFile = Path.Combine(dir, "cpu.cfs_quota_us");
        var quota = ReadLong(root, quotaFile);
        var period = ReadLong(root, Path.Combine(dir, "cpu.cfs_period_us"));
        return quota is > 0 && period is > 0 ? new CgroupLimit((double)quota.Value / period.Value, "cgroup1 cpu.cfs_quota_us", quotaFile) : null;
    }

    private static CgroupLimit? ReadBytes(string root, string dir, string name, string mechanism)
    {
        var file = Path.Combine(dir, name);
        return ReadLong(root, file) is { } bytes and > 0 and < UnlimitedThreshold ? new CgroupLimit(bytes, mechanism, file) : null;
    }

    private static CgroupLimit? Lowest(CgroupLimit? current, IEnumerable<CgroupLimit?> candidates)
    {
        foreach (var candidate in candidates)
        {
            if (candidate is not null && (current is null || candidate.Value < current.Value))
            {
                current = candidate;
            }
        }

        return current;
    }

    private static long? ReadLong(string root, string path) => SysFs.ReadLong(root, path);

    private static string? ReadText(string root, string path) => SysFs.ReadText(root, path);
}
