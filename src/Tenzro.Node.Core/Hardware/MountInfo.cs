using System.Globalization;
using System.Text;

namespace Tenzro.Node.Core.Hardware;

/// <summary>One line of /proc/self/mountinfo (proc(5)).</summary>
/// <param name="Major">Device major number (0 for filesystems without a block device).</param>
/// <param name="Minor">Device minor number.</param>
/// <param name="Root">The directory of the filesystem mounted here (for cgroup mounts, the cgroup path of the mount's root).</param>
/// <param name="MountPoint">Where it is mounted, unescaped.</param>
/// <param name="FilesystemType">ext4, xfs, tmpfs, overlay, cgroup, cgroup2, ...</param>
/// <param name="Source">The mount source (/dev/nvme0n1p2, tmpfs, ...).</param>
/// <param name="SuperOptions">Per-superblock options; for cgroup v1 these name the controllers (rw,cpu,cpuacct).</param>
public sealed record MountEntry(int Major, int Minor, string Root, string MountPoint, string FilesystemType, string Source, IReadOnlyList<string> SuperOptions);

/// <summary>Parses /proc/self/mountinfo and finds the mount that holds a path. Pure: no file access.</summary>
public static class MountInfo
{
    public static IReadOnlyList<MountEntry> Parse(string mountinfo)
    {
        ArgumentNullException.ThrowIfNull(mountinfo);
        var entries = new List<MountEntry>();
        foreach (var line in mountinfo.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var fields = line.Split(' ');
            var separator = Array.IndexOf(fields, "-", 6);
            if (fields.Length < 7 || separator < 0 || separator + 2 >= fields.Length)
            {
                continue;
            }

            var device = fields[2].Split(':');
            if (device.Length != 2
                || !int.TryParse(device[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var major)
                || !int.TryParse(device[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var minor))
            {
                continue;
            }

            var superOptions = separator + 3 < fields.Length ? fields[separator + 3].Split(',') : [];
            entries.Add(new MountEntry(major, minor, Unescape(fields[3]), Unescape(fields[4]), fields[separator + 1], Unescape(fields[separator + 2]), superOptions));
        }

        return entries;
    }

    /// <summary>The mount whose mount point is the longest prefix of <paramref name="absolutePath"/> (the last one mounted on a tie); null when none.</summary>
    public static MountEntry? Find(IReadOnlyList<MountEntry> mounts, string absolutePath)
    {
        ArgumentNullException.ThrowIfNull(mounts);
        MountEntry? best = null;
        foreach (var mount in mounts)
        {
            if (Contains(mount.MountPoint, absolutePath) && (best is null || mount.MountPoint.Length >= best.MountPoint.Length))
            {
                best = mount;
            }
        }

        return best;
    }

    private static bool Contains(string mountPoint, string path) =>
        mountPoint == "/"
        || path == mountPoint
        || (path.StartsWith(mountPoint, StringComparison.Ordinal) && path.Length > mountPoint.Length && path[mountPoint.Length] == '/');

    /// <summary>mountinfo writes space, tab, newline and backslash as three-digit octal escapes (\040).</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var builder = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length
                && field.AsSpan(i + 1, 3).IndexOfAnyExceptInRange('0', '7') < 0)
            {
                builder.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                builder.Append(field[i]);
            }
        }

        return builder.ToString();
    }
}
