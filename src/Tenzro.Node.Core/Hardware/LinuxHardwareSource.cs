using System.Runtime.InteropServices;

namespace Tenzro.Node.Core.Hardware;

/// <summary>
/// Reads the hardware of a Linux machine from /proc, /sys and the cgroup files under <c>root</c>, plus
/// <c>nvidia-smi</c> and <c>lspci</c> where installed. Where a file is missing (another OS, a locked-down
/// container) the figure falls back to what the .NET runtime reports.
/// </summary>
/// <remarks>Thread-safe; holds no state besides its configuration.</remarks>
public sealed class LinuxHardwareSource(IToolRunner tools, string root = "/") : IHardwareSource
{
    /// <summary>How long one external tool may run; a hung driver tool is killed after this.</summary>
    public static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(3);

    public string Root { get; } = root;

    public async Task<HardwareFacts> CollectAsync(string dataDirectory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataDirectory);
        var smiQuery = tools.RunAsync("nvidia-smi", NvidiaSmiParser.QueryArguments, ToolTimeout, cancellationToken);
        var smiBanner = tools.RunAsync("nvidia-smi", [], ToolTimeout, cancellationToken);
        var lspci = tools.RunAsync("lspci", ["-mm", "-D"], ToolTimeout, cancellationToken);

        var limits = CgroupLimits.Read(Root);
        var cpuInfo = SysFs.ReadText(Root, "/proc/cpuinfo") is { } cpuText ? CpuInfoParser.Parse(cpuText) : null;
        var memInfo = ReadMemInfo();
        var cpu = ReadCpu(cpuInfo, limits);
        var memory = ReadMemory(memInfo, limits);
        var storage = ReadStorage(dataDirectory);
        var applied = new List<AppliedLimit>();
        if (limits.Cpu is { } cpuLimit && cpuLimit.Value < cpu.LogicalCores)
        {
            applied.Add(new AppliedLimit("cpu", cpuLimit.Mechanism, Math.Round(cpuLimit.Value, 2), "cores", cpuLimit.File));
        }

        if (limits.Memory is { } memoryLimit && memoryLimit.Value < memory.TotalBytes)
        {
            applied.Add(new AppliedLimit("memory", memoryLimit.Mechanism, memoryLimit.Value, "bytes", memoryLimit.File));
        }

        var results = await Task.WhenAll(smiQuery, smiBanner, lspci);
        var problems = results.Where(r => r.Outcome is ToolOutcome.Failed or ToolOutcome.TimedOut).Select(r => r.Detail ?? r.Outcome.ToString()).Distinct().ToList();
        var pciDevices = results[2].Outcome == ToolOutcome.Ok ? LspciParser.Parse(results[2].Output) : [];
        var gpus = CombineGpus(results[0], results[1], pciDevices);
        var notDetected = NotDetected(cpuInfo is not null, memInfo is not null, lspciAnswered: results[2].Outcome == ToolOutcome.Ok).ToList();
        return new HardwareFacts(
            ReadOs(),
            cpu,
            memory,
            storage,
            gpus,
            NetworkInterfaces.Read(Root),
            applied,
            SysFs.ReadTrimmed(Root, "/etc/machine-id") ?? SysFs.ReadTrimmed(Root, "/var/lib/dbus/machine-id"),
            problems)
        {
            NotDetected = notDetected,
        };
    }

    /// <summary>
    /// What this machine does not let the node read (another OS, a locked-down container), each with the
    /// file that could not be read and where the figure comes from instead; empty on an ordinary Linux machine.
    /// </summary>
    private IEnumerable<string> NotDetected(bool cpuInfoRead, bool memInfoRead, bool lspciAnswered)
    {
        bool Unreadable(string path) => !SysFs.CanRead(Root, path);
        if (!cpuInfoRead)
        {
            yield return "CPU model, vendor, features and frequencies (/proc/cpuinfo is not readable; the core count comes from the .NET runtime)";
        }

        if (!memInfoRead)
        {
            yield return "memory and swap (/proc/meminfo is not readable or not understood; total and available memory come from the .NET runtime, swap is unknown)";
        }

        var mountinfo = Unreadable("/proc/self/mountinfo");
        if (mountinfo)
        {
            yield return "the filesystem and device under DATA_DIR and whether it is rotational (/proc/self/mountinfo is not readable)";
        }

        if (mountinfo || Unreadable("/proc/self/cgroup"))
        {
            yield return "container CPU and memory limits (/proc/self/cgroup or /proc/self/mountinfo is not readable)";
        }

        if (!Directory.Exists(SysFs.Under(Root, "/sys/class/net")))
        {
            yield return "network interfaces and link speeds (/sys/class/net is absent)";
        }

        if (!Directory.Exists(SysFs.Under(Root, "/sys/class/drm")) && !lspciAnswered)
        {
            yield return "GPUs other than NVIDIA ones that nvidia-smi lists (/sys/class/drm is absent and lspci is not installed or gave no answer)";
        }
    }

    /// <summary>The dynamic figures of this source's machine for <paramref name="dataDirectory"/>.</summary>
    public DynamicHardwareFigures ReadDynamic(string dataDirectory)
    {
        var limits = CgroupLimits.Read(Root);
        var memory = ReadMemory(ReadMemInfo(), limits);
        return new DynamicHardwareFigures(memory.AvailableBytes, FreeSpace(dataDirectory).Free, Math.Round(UsableCores(LogicalCores(null), limits), 2), memory.UsableBytes);
    }

    private CpuProfile ReadCpu(CpuInfo? info, CgroupLimits limits)
    {
        var logical = LogicalCores(info);
        var usable = UsableCores(logical, limits);
        return new CpuProfile
        {
            Vendor = info?.Vendor,
            Model = info?.Model ?? RuntimeInformation.ProcessArchitecture.ToString(),
            Architecture = Architecture(),
            LogicalCores = logical,
            PhysicalCores = info?.PhysicalCores ?? PhysicalCoresFromTopology(),
            UsableCores = Math.Round(usable, 2),
            BaseMhz = KiloHertzToMega(SysFs.ReadLong(Root, "/sys/devices/system/cpu/cpu0/cpufreq/base_frequency")),
            MaxMhz = KiloHertzToMega(SysFs.ReadLong(Root, "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")),
            CurrentMhz = info?.CurrentMhz,
            Features = info?.Features ?? [],
        };
    }

    /// <summary>The logical cores the node may run on: its CPU affinity, else those of <paramref name="info"/>, else the runtime's count.</summary>
    private int LogicalCores(CpuInfo? info)
    {
        var allowed = SysFs.ReadText(Root, "/proc/self/status") is { } status ? AllowedCpus(status) : 0;
        return allowed > 0 ? allowed : info is { Processors: > 0 } ? info.Processors : Environment.ProcessorCount;
    }

    /// <summary>The logical cores the node may run on, lowered by a cgroup CPU quota.</summary>
    private static double UsableCores(int logical, CgroupLimits limits) => limits.Cpu is { } quota ? Math.Min(logical, quota.Value) : logical;

    /// <summary>/proc/meminfo parsed; null when it cannot be read or has no MemTotal.</summary>
    private MemInfo? ReadMemInfo() =>
        SysFs.ReadText(Root, "/proc/meminfo") is { } text && MemInfoParser.TryParse(text, out var info) ? info : null;

    /// <summary>The memory figures from <paramref name="memInfo"/>, or from the .NET runtime when it is null, under the cgroup limit.</summary>
    private static MemoryProfile ReadMemory(MemInfo? memInfo, CgroupLimits limits)
    {
        var info = memInfo ?? FromRuntime();
        var usable = info.TotalBytes;
        var available = info.AvailableBytes;
        if (limits.Memory is { } limit && limit.Value < info.TotalBytes)
        {
            usable = (long)limit.Value;
            var left = limits.MemoryUsageBytes is { } used ? Math.Max(0, usable - used) : usable;
            available = Math.Min(available, left);
        }

        return new MemoryProfile
        {
            TotalBytes = info.TotalBytes,
            UsableBytes = usable,
            AvailableBytes = available,
            SwapTotalBytes = info.SwapTotalBytes,
            SwapFreeBytes = info.SwapFreeBytes,
        };

        static MemInfo FromRuntime()
        {
            var gc = GC.GetGCMemoryInfo();
            return new MemInfo(gc.TotalAvailableMemoryBytes, Math.Max(0, gc.TotalAvailableMemoryBytes - gc.MemoryLoadBytes), 0, 0);
        }
    }

    private StorageProfile ReadStorage(string dataDirectory)
    {
        var path = Path.GetFullPath(dataDirectory);
        Directory.CreateDirectory(path);
        var (mountPoint, filesystem, device, rotational) = StorageProbe.Describe(Root, path);
        var (total, free) = FreeSpace(path);
        return new StorageProfile
        {
            Path = path,
            MountPoint = mountPoint,
            Filesystem = filesystem,
            Device = device,
            Rotational = rotational,
            TotalBytes = total,
            FreeBytes = free,
        };
    }

    private static (long Total, long Free) FreeSpace(string directory)
    {
        var drive = new DriveInfo(Path.GetFullPath(directory));
        return (drive.TotalSize, drive.AvailableFreeSpace);
    }

    private OperatingSystemInfo ReadOs()
    {
        var osRelease = SysFs.ReadText(Root, "/etc/os-release") ?? SysFs.ReadText(Root, "/usr/lib/os-release");
        var name = osRelease is null ? null : OsReleaseName(osRelease);
        return new OperatingSystemInfo(
            name ?? RuntimeInformation.OSDescription,
            SysFs.ReadTrimmed(Root, "/proc/sys/kernel/osrelease"),
            RuntimeInformation.FrameworkDescription,
            SysFs.ReadTrimmed(Root, "/proc/sys/kernel/hostname") ?? Environment.MachineName);
    }

    /// <summary>PRETTY_NAME of os-release(5), else NAME and VERSION.</summary>
    public static string? OsReleaseName(string osRelease)
    {
        ArgumentNullException.ThrowIfNull(osRelease);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in osRelease.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && !line.StartsWith('#'))
            {
                values[line[..equals]] = line[(equals + 1)..].Trim('"', '\'');
            }
        }

        return values.TryGetValue("PRETTY_NAME", out var pretty) ? pretty
            : values.TryGetValue("NAME", out var name) ? $"{name} {values.GetValueOrDefault("VERSION")}".Trim()
            : null;
    }

    /// <summary>The CPUs in the Cpus_allowed_list line of /proc/self/status (the affinity mask, what <c>nproc</c> counts).</summary>
    public static int AllowedCpus(string procSelfStatus)
    {
        ArgumentNullException.ThrowIfNull(procSelfStatus);
        foreach (var line in procSelfStatus.Split('\n'))
        {
            if (line.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))
            {
                return CpuInfoParser.CountCpuList(line["Cpus_allowed_list:".Length..]);
            }
        }

        return 0;
    }

    private int? PhysicalCoresFromTopology()
    {
        var cpus = SysFs.Under(Root, "/sys/devices/system/cpu");
        if (!Directory.Exists(cpus))
        {
            return null;
        }

        var cores = new HashSet<(long, long)>();
        foreach (var directory in Directory.EnumerateDirectories(cpus, "cpu*"))
        {
            var name = Path.GetFileName(directory);
            if (name.Length <= 3 || name.AsSpan(3).IndexOfAnyExceptInRange('0', '9') >= 0)
            {
                continue;
            }

            var package = SysFs.ReadLong(Root, $"/sys/devices/system/cpu/{name}/topology/physical_package_id");
            var core = SysFs.ReadLong(Root, $"/sys/devices/system/cpu/{name}/topology/core_id");
            if (core is not null)
            {
                cores.Add((package ?? 0, core.Value));
            }
        }

        return cores.Count > 0 ? cores.Count : null;
    }

    private static string Architecture() => RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "x86_64",
        System.Runtime.InteropServices.Architecture.Arm64 => "aarch64",
        System.Runtime.InteropServices.Architecture.X86 => "i686",
        System.Runtime.InteropServices.Architecture.Arm => "armv7l",
        var other => other.ToString().ToLowerInvariant(),
    };

    private static double? KiloHertzToMega(long? kiloHertz) => kiloHertz is > 0 ? kiloHertz.Value / 1000.0 : null;

    /// <summary>
    /// nvidia-smi first (names, memory, driver and CUDA versions), then /sys/class/drm for AMD and Intel (and
    /// NVIDIA cards nvidia-smi did not list), then any other display adapter lspci knows of.
    /// </summary>
    private List<GpuProfile> CombineGpus(ToolResult smiQuery, ToolResult smiBanner, IReadOnlyList<PciDevice> pciDevices)
    {
        var cuda = smiBanner.Outcome == ToolOutcome.Ok ? NvidiaSmiParser.ParseCudaVersion(smiBanner.Output) : null;
        var gpus = new List<GpuProfile>(smiQuery.Outcome == ToolOutcome.Ok ? NvidiaSmiParser.ParseQuery(smiQuery.Output, cuda) : []);
        var pciNames = pciDevices.GroupBy(d => d.Slot).ToDictionary(g => g.Key, g => g.First().Device, StringComparer.Ordinal);
        foreach (var gpu in DrmGpus.Read(Root, pciNames))
        {
            var alreadyListed = gpus.Any(g => gpu.BusId is not null && g.BusId == gpu.BusId)
                || (gpu.Vendor == "NVIDIA" && gpu.BusId is null && gpus.Any(g => g.Vendor == "NVIDIA"));
            if (!alreadyListed)
            {
                gpus.Add(gpu);
            }
        }

        foreach (var adapter in LspciParser.DisplayAdapters(pciDevices))
        {
            if (gpus.All(g => g.BusId != adapter.Slot))
            {
                gpus.Add(new GpuProfile { Vendor = adapter.Vendor, Name = adapter.Device, BusId = adapter.Slot, Source = "lspci", Usable = false });
            }
        }

        return gpus;
    }
}

/// <summary>The dynamic figures read straight from /proc, the cgroup files and the filesystem of DATA_DIR.</summary>
public sealed class LinuxDynamicHardwareReader(LinuxHardwareSource source, string dataDirectory) : IDynamicHardwareReader
{
    public DynamicHardwareFigures Read() => source.ReadDynamic(dataDirectory);
}
