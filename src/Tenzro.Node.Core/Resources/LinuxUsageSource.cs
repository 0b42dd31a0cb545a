using System.Diagnostics;
using System.Globalization;
using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Core.Resources;

/// <summary>
/// Usage counters from <c>/proc/stat</c>, <c>/proc/meminfo</c>, <c>/proc/net/dev</c>, the filesystem of
/// DATA_DIR, and the process itself. Inside a cgroup with a memory limit, memory figures come from
/// <c>memory.max</c>/<c>memory.current</c> so a container reports its own limit, not the host's.
/// On systems without /proc it falls back to what the .NET runtime reports. GPU figures come from
/// nvidia-smi when an NVIDIA GPU was found.
/// </summary>
public sealed class LinuxUsageSource(StorageOptions storage, string procRoot = "/proc", string cgroupRoot = "/sys/fs/cgroup", NvidiaGpuUsage? gpus = null) : IUsageSource
{
    public int Cores => Environment.ProcessorCount;

    public UsageReading Read()
    {
        using var process = Process.GetCurrentProcess();
        var drive = new DriveInfo(Directory.Exists(storage.DataDirectory) ? storage.DataDirectory : Path.GetTempPath());
        var (total, idle) = ReadCpu();
        var (memoryTotal, memoryAvailable) = ReadMemory();
        var (received, sent) = ReadNetwork();
        return new UsageReading
        {
            CpuTotal = total,
            CpuIdle = idle,
            MemoryTotalBytes = memoryTotal,
            MemoryAvailableBytes = memoryAvailable,
            StorageTotalBytes = drive.TotalSize,
            StorageFreeBytes = drive.AvailableFreeSpace,
            ProcessCpuTime = process.TotalProcessorTime,
            ProcessMemoryBytes = process.WorkingSet64,
            NetworkReceivedBytes = received,
            NetworkSentBytes = sent,
            Gpus = gpus?.Read() ?? [],
        };
    }

    /// <summary>Parses the aggregate "cpu" line of /proc/stat into total and idle (idle + iowait) jiffies.</summary>
    public static (long Total, long Idle) ParseProcStat(string text)
    {
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith("cpu ", StringComparison.Ordinal))
            {
                continue;
            }

            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
            var total = fields.Take(Math.Min(8, fields.Length)).Sum();
            var idle = fields[3] + (fields.Length > 4 ? fields[4] : 0);
            return (total, idle);
        }

        throw new FormatException("/proc/stat has no aggregate cpu line");
    }

    /// <summary>Parses MemTotal and MemAvailable (kB) from /proc/meminfo into bytes.</summary>
    public static (long Total, long Available) ParseMeminfo(string text)
    {
        long total = 0, available = -1, free = 0;
        foreach (var line in text.Split('\n'))
        {
            var parts = line.Split(':', 2);
            if (parts.Length != 2)
            {
                continue;
            }

            var value = long.Parse(parts[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            switch (parts[0])
            {
                case "MemTotal": total = value; break;
                case "MemAvailable": available = value; break;
                case "MemFree": free = value; break;
            }
        }

        return (total, available >= 0 ? available : free);
    }

    /// <summary>Sums receive and transmit bytes of every interface but loopback from /proc/net/dev.</summary>
    public static (long Received, long Sent) ParseNetDev(string text)
    {
        long received = 0, sent = 0;
        foreach (var line in text.Split('\n').Skip(2))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0 || line[..colon].Trim() == "lo")
            {
                continue;
            }

            var fields = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 9)
            {
                received += long.Parse(fields[0], CultureInfo.InvariantCulture);
                sent += long.Parse(fields[8], CultureInfo.InvariantCulture);
            }
        }

        return (received, sent);
    }

    private (long Total, long Idle) ReadCpu()
    {
        var path = Path.Combine(procRoot, "stat");
        if (File.Exists(path))
        {
            return ParseProcStat(File.ReadAllText(path));
        }

        // Without /proc: count only this process, measured against wall time.
        using var process = Process.GetCurrentProcess();
        var wall = Environment.TickCount64 * 10_000L * Cores;
        return (wall, wall - process.TotalProcessorTime.Ticks);
    }

    private (long Total, long Available) ReadMemory()
    {
        var meminfo = Path.Combine(procRoot, "meminfo");
        var (total, available) = File.Exists(meminfo)
            ? ParseMeminfo(File.ReadAllText(meminfo))
            : (GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes - GC.GetGCMemoryInfo().MemoryLoadBytes);

        var max = Path.Combine(cgroupRoot, "memory.max");
        var current = Path.Combine(cgroupRoot, "memory.current");
        if (File.Exists(max) && File.Exists(current)
            && long.TryParse(File.ReadAllText(max).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var limit) && limit < total
            && long.TryParse(File.ReadAllText(current).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var used))
        {
            return (limit, Math.Max(0, limit - used));
        }

        return (total, available);
    }

    private (long Received, long Sent) ReadNetwork()
    {
        var path = Path.Combine(procRoot, "net", "dev");
        return File.Exists(path) ? ParseNetDev(File.ReadAllText(path)) : (0, 0);
    }
}
