using System.Globalization;

namespace Tenzro.Node.Core.Hardware;

/// <summary>Small readers of /proc and /sys files under a root directory; every read tolerates a missing or unreadable file.</summary>
internal static class SysFs
{
    /// <summary>Maps an absolute path of the system being read onto <paramref name="root"/> (<c>/</c> on a real system, a fixture tree in tests).</summary>
    public static string Under(string root, string absolutePath) =>
        root is "/" or "" ? absolutePath : Path.Join(root, absolutePath);

    public static string? ReadText(string root, string absolutePath) => ReadFile(Under(root, absolutePath));

    /// <summary>The text of a file, or null when it is missing or unreadable.</summary>
    public static string? ReadFile(string fullPath)
    {
        try
        {
            return File.ReadAllText(fullPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // sysfs answers some reads with EINVAL (the speed of a link that is down); that is "unknown".
            return null;
        }
    }

    /// <summary>Whether the file can be opened for reading (without reading it).</summary>
    public static bool CanRead(string root, string absolutePath)
    {
        try
        {
            using var stream = File.OpenRead(Under(root, absolutePath));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public static string? ReadTrimmed(string root, string absolutePath) => Trimmed(ReadText(root, absolutePath));

    public static string? ReadFileTrimmed(string fullPath) => Trimmed(ReadFile(fullPath));

    public static long? ReadLong(string root, string absolutePath) =>
        ReadTrimmed(root, absolutePath) is { } text && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    private static string? Trimmed(string? text) => text?.Trim() is { Length: > 0 } trimmed ? trimmed : null;
}

/// <summary>Network interfaces from <c>/sys/class/net</c>, loopback excluded.</summary>
public static class NetworkInterfaces
{
    public static IReadOnlyList<NetworkInterfaceProfile> Read(string root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var net = SysFs.Under(root, "/sys/class/net");
        if (!Directory.Exists(net))
        {
            return [];
        }

        var interfaces = new List<NetworkInterfaceProfile>();
        foreach (var name in Directory.EnumerateFileSystemEntries(net).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal))
        {
            if (name == "lo" || name.StartsWith('.'))
            {
                continue;
            }

            var speed = SysFs.ReadLong(root, $"/sys/class/net/{name}/speed");
            var state = SysFs.ReadTrimmed(root, $"/sys/class/net/{name}/operstate") ?? "unknown";
            var isVirtual = !Directory.Exists(Path.Combine(net, name, "device"));
            interfaces.Add(new NetworkInterfaceProfile(name, speed is > 0 ? speed : null, state, isVirtual));
        }

        return interfaces;
    }

    /// <summary>
    /// BANDWIDTH_MBPS when configured, else the figure of a measurement that has one, else the fastest known
    /// link speed of an interface that is up.
    /// </summary>
    public static (double? Mbps, string? Source) Bandwidth(double? configuredMbps, BandwidthMeasurement? measurement, IReadOnlyList<NetworkInterfaceProfile> interfaces)
    {
        ArgumentNullException.ThrowIfNull(interfaces);
        if (configuredMbps is { } configured)
        {
            return (configured, "configured");
        }

        if (measurement?.ReportedMbps is { } measured)
        {
            return (measured, "measured");
        }

        var fastest = interfaces.Where(i => i.State == "up" && i.SpeedMbps is not null).Max(i => i.SpeedMbps);
        return fastest is { } link ? (link, "linkSpeed") : (null, null);
    }
}

/// <summary>The filesystem and block device behind a directory, from mountinfo and <c>/sys/dev/block</c>.</summary>
public static class StorageProbe
{
    /// <summary>Mount point, filesystem type, block device name and whether it is rotational; device fields null when unknown.</summary>
    public static (string? MountPoint, string? Filesystem, string? Device, bool? Rotational) Describe(string root, string absolutePath)
    {
        ArgumentNullException.ThrowIfNull(root);
        var mountinfo = SysFs.ReadText(root, "/proc/self/mountinfo");
        if (mountinfo is null || MountInfo.Find(MountInfo.Parse(mountinfo), absolutePath) is not { } mount)
        {
            return (null, null, null, null);
        }

        var blockDirectory = mount.Major != 0 ? SysFs.Under(root, $"/sys/dev/block/{mount.Major}:{mount.Minor}") : null;
        if ((blockDirectory is null || !Directory.Exists(blockDirectory)) && mount.Source.StartsWith("/dev/", StringComparison.Ordinal))
        {
            blockDirectory = SysFs.Under(root, "/sys/class/block/" + Path.GetFileName(mount.Source));
        }

        if (blockDirectory is null || !Directory.Exists(blockDirectory))
        {
            return (mount.MountPoint, mount.FilesystemType, null, null);
        }

        // /sys/dev/block/8:1 links into /sys/devices/.../block/sda/sda1; a partition's queue is its disk's.
        var resolved = Directory.ResolveLinkTarget(blockDirectory, returnFinalTarget: true)?.FullName ?? blockDirectory;
        var disk = File.Exists(Path.Combine(resolved, "partition")) ? Path.GetDirectoryName(resolved)! : resolved;
        var rotational = ReadFlag(Path.Combine(disk, "queue", "rotational"));
        return (mount.MountPoint, mount.FilesystemType, Path.GetFileName(disk), rotational);
    }

    private static bool? ReadFlag(string path) => SysFs.ReadFileTrimmed(path) switch
    {
        "1" => true,
        "0" => false,
        _ => null,
    };
}
