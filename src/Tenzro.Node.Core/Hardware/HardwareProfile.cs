namespace Tenzro.Node.Core.Hardware;

/// <summary>
/// What this machine has, in the shape of CONTRACTS.md "/api/hardware/profile": raw figures beside the
/// usable ones (after cgroup limits), measured benchmarks, the qualified tier and a stable fingerprint.
/// </summary>
/// <remarks>Immutable; <see cref="HardwareProfiler"/> publishes a new instance for every change.</remarks>
public sealed record HardwareProfile
{
    /// <summary>Lowercase hex SHA-256 of the identifying parts (see <see cref="HardwareFingerprint"/>).</summary>
    public required string Fingerprint { get; init; }

    /// <summary>When the static figures were read (round-trip UTC).</summary>
    public required string CollectedAt { get; init; }

    /// <summary>When the dynamic figures (available memory, free storage) were last read.</summary>
    public required string UpdatedAt { get; init; }

    public required OperatingSystemInfo Os { get; init; }

    public required CpuProfile Cpu { get; init; }

    public required MemoryProfile Memory { get; init; }

    public required StorageProfile Storage { get; init; }

    public required IReadOnlyList<GpuProfile> Gpus { get; init; }

    /// <summary>Whether the detected GPUs can run tasks here, and why not; null before the probe ran.</summary>
    public GpuComputeInfo? GpuCompute { get; init; }

    public required NetworkProfile Network { get; init; }

    /// <summary>Benchmark name → measured value and unit; empty until the first run (or cache hit).</summary>
    public IReadOnlyDictionary<string, BenchmarkFigure> Benchmarks { get; init; } = new Dictionary<string, BenchmarkFigure>();

    public BenchmarkRunInfo BenchmarkRun { get; init; } = new() { State = BenchmarkState.Pending };

    public required TierInfo Tier { get; init; }

    /// <summary>Each container limit that lowered a usable figure; empty when none did.</summary>
    public required IReadOnlyList<AppliedLimit> LimitsApplied { get; init; }

    /// <summary>What the node tuned from this profile (CONTRACTS.md "Optimization"); filled in by the API from every <see cref="Optimization.IOptimizationSource"/>.</summary>
    public IReadOnlyList<Optimization.OptimizationChoice> Optimizations { get; init; } = [];

    /// <summary>What this machine did not let the node read (another OS, a locked-down container), and where the figure comes from instead.</summary>
    public IReadOnlyList<string> NotDetected { get; init; } = [];
}

/// <summary>Operating system, kernel, .NET runtime and host name.</summary>
public sealed record OperatingSystemInfo(string Name, string? Kernel, string Runtime, string Hostname);

/// <summary>The processor as the OS reports it and as this process may use it.</summary>
public sealed record CpuProfile
{
    /// <summary>Intel, AMD, ARM, Apple, ... or the raw vendor string; null when not reported.</summary>
    public string? Vendor { get; init; }

    public required string Model { get; init; }

    /// <summary><c>x86_64</c>, <c>aarch64</c>, ...</summary>
    public required string Architecture { get; init; }

    /// <summary>Logical CPUs this process may run on: what <c>nproc</c> prints (the scheduler affinity mask).</summary>
    public required int LogicalCores { get; init; }

    /// <summary>Distinct physical cores; null when the OS does not say.</summary>
    public int? PhysicalCores { get; init; }

    /// <summary><see cref="LogicalCores"/> lowered by a cgroup CPU quota (may be fractional).</summary>
    public required double UsableCores { get; init; }

    public double? BaseMhz { get; init; }

    public double? MaxMhz { get; init; }

    /// <summary>Mean current clock over the logical CPUs when /proc/cpuinfo reports it.</summary>
    public double? CurrentMhz { get; init; }

    /// <summary>Compute-relevant instruction set features present (see <see cref="CpuInfoParser.KnownFeatures"/>).</summary>
    public required IReadOnlyList<string> Features { get; init; }
}

/// <summary>Memory figures in bytes.</summary>
public sealed record MemoryProfile
{
    /// <summary>MemTotal of /proc/meminfo.</summary>
    public required long TotalBytes { get; init; }

    /// <summary><see cref="TotalBytes"/> lowered by a cgroup memory limit.</summary>
    public required long UsableBytes { get; init; }

    /// <summary>MemAvailable, lowered to what the cgroup limit leaves; refreshed every PROFILE_UPDATE_INTERVAL.</summary>
    public required long AvailableBytes { get; init; }

    public long SwapTotalBytes { get; init; }

    public long SwapFreeBytes { get; init; }
}

/// <summary>The filesystem that holds DATA_DIR.</summary>
public sealed record StorageProfile
{
    public required string Path { get; init; }

    public string? MountPoint { get; init; }

    public string? Filesystem { get; init; }

    /// <summary>The block device (e.g. <c>nvme0n1</c>); null for filesystems without one (tmpfs, overlay).</summary>
    public string? Device { get; init; }

    /// <summary>/sys/block/{device}/queue/rotational: true for spinning disks; null when unknown.</summary>
    public bool? Rotational { get; init; }

    /// <summary>Size of the filesystem, as <c>df -B1</c> reports it.</summary>
    public required long TotalBytes { get; init; }

    /// <summary>Space this process may still write (<c>df</c>'s Available); refreshed every PROFILE_UPDATE_INTERVAL.</summary>
    public required long FreeBytes { get; init; }
}

/// <summary>One graphics or compute adapter.</summary>
public sealed record GpuProfile
{
    /// <summary>NVIDIA, AMD, Intel, or the vendor lspci names.</summary>
    public required string Vendor { get; init; }

    public required string Name { get; init; }

    /// <summary>Dedicated memory in bytes; null when unknown (integrated GPUs share system memory).</summary>
    public long? MemoryBytes { get; init; }

    /// <summary>Kernel driver bound to the device (nvidia, amdgpu, i915, xe, ...).</summary>
    public string? Driver { get; init; }

    public string? DriverVersion { get; init; }

    public string? CudaVersion { get; init; }

    /// <summary>PCI address, <c>dddd:bb:dd.f</c>.</summary>
    public string? BusId { get; init; }

    /// <summary>Where it was found: nvidia-smi, drm (/sys/class/drm) or lspci.</summary>
    public required string Source { get; init; }

    /// <summary>True when a GPU compute driver is loaded (found by nvidia-smi or /sys/class/drm); counts for GPU_REQUIRED.</summary>
    public required bool Usable { get; init; }
}

public sealed record NetworkProfile
{
    public required IReadOnlyList<NetworkInterfaceProfile> Interfaces { get; init; }

    /// <summary>
    /// BANDWIDTH_MBPS when set, else the slower direction of the last measurement, else the fastest link
    /// speed of an interface that is up; null when none is known. This is what node_status reports.
    /// </summary>
    public double? BandwidthMbps { get; init; }

    /// <summary><c>configured</c>, <c>measured</c>, <c>linkSpeed</c>, or null.</summary>
    public string? BandwidthSource { get; init; }

    /// <summary>The last measurement against BANDWIDTH_TEST_URL (or a target given on request); null when none was made.</summary>
    public BandwidthMeasurement? Measurement { get; init; }
}

/// <summary>One bandwidth measurement against an HTTP target: a download by GET, an upload by POST.</summary>
public sealed record BandwidthMeasurement
{
    /// <summary>The URL measured against.</summary>
    public required string Target { get; init; }

    /// <summary>See <see cref="BandwidthState"/>.</summary>
    public required string State { get; init; }

    /// <summary>Body bytes per second received, in Mbps (10^6 bits per second); null until measured.</summary>
    public double? DownloadMbps { get; init; }

    /// <summary>Body bytes per second sent, in Mbps; null when the target is not a node's probe or does not take uploads.</summary>
    public double? UploadMbps { get; init; }

    /// <summary>One HTTP round trip on an open connection (a HEAD request), in ms; where the target does not answer HEAD, the download's time to its headers.</summary>
    public double? LatencyMs { get; init; }

    public long DownloadBytes { get; init; }

    public long UploadBytes { get; init; }

    /// <summary>When the figures were measured (ISO 8601 UTC); null until then.</summary>
    public string? MeasuredAt { get; init; }

    /// <summary>Why the last attempt failed (state failed), or why the upload was not measured.</summary>
    public string? Error { get; init; }

    /// <summary>The figure this measurement contributes: the slower of the two directions measured.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public double? ReportedMbps => DownloadMbps is { } down ? Math.Min(down, UploadMbps ?? down) : null;
}

public static class BandwidthState
{
    public const string Running = "running";
    public const string Measured = "measured";
    public const string Cached = "cached";
    public const string Failed = "failed";
}

/// <param name="Name">Interface name (eth0, enp3s0, ...).</param>
/// <param name="SpeedMbps">Link speed in Mbps; null when the driver does not report one.</param>
/// <param name="State">operstate: up, down, unknown, ...</param>
/// <param name="Virtual">True when no physical device backs it (bridges, veth, tunnels).</param>
public sealed record NetworkInterfaceProfile(string Name, long? SpeedMbps, string State, bool Virtual);

/// <summary>One benchmark result.</summary>
public sealed record BenchmarkFigure(double Value, string Unit);

public static class BenchmarkState
{
    public const string Pending = "pending";
    public const string Running = "running";
    public const string Measured = "measured";
    public const string Cached = "cached";
    public const string Skipped = "skipped";
    public const string Failed = "failed";
}

/// <summary>Where the benchmark figures stand.</summary>
/// <param name="State">One of <see cref="BenchmarkState"/>.</param>
/// <param name="MeasuredAt">When the figures shown were measured; null before the first run.</param>
/// <param name="Error">Why the last run failed, when it did.</param>
public sealed record BenchmarkRunInfo
{
    public required string State { get; init; }

    public string? MeasuredAt { get; init; }

    public string? Error { get; init; }
}

/// <param name="Configured">NODE_TIER.</param>
/// <param name="Qualified">What the measured hardware qualifies for (<see cref="TierRules.Qualify"/>).</param>
/// <param name="Shortfalls">The figures that fall short of the configured tier; empty when it is met.</param>
public sealed record TierInfo(string Configured, string Qualified, IReadOnlyList<string> Shortfalls);

/// <summary>A container limit that lowered a usable figure.</summary>
/// <param name="Resource"><c>cpu</c> or <c>memory</c>.</param>
/// <param name="Mechanism">The file that set it, e.g. <c>cgroup2 cpu.max</c>, <c>cgroup1 memory.limit_in_bytes</c>.</param>
/// <param name="Value">The limit: cores for cpu, bytes for memory.</param>
/// <param name="Unit"><c>cores</c> or <c>bytes</c>.</param>
/// <param name="File">The file read.</param>
public sealed record AppliedLimit(string Resource, string Mechanism, double Value, string Unit, string File);
