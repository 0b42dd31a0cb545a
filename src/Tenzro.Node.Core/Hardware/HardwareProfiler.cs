using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Core.Hardware;

/// <summary>
/// Holds the node's hardware profile: the static figures read at start-up, the dynamic ones refreshed by
/// a background loop, and the benchmark figures once measured or loaded from the cache.
/// </summary>
/// <remarks>
/// Thread-safe. <see cref="Current"/> is an immutable snapshot that readers may hold; every update
/// publishes a new one.
/// </remarks>
public sealed class HardwareProfiler
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly double? _configuredBandwidthMbps;
    private HardwareProfile _current;

    public HardwareProfiler(HardwareFacts facts, NodeOptions node, NetworkOptions network, TimeProvider time, IGpuComputeProbe? gpuProbe = null)
    {
        ArgumentNullException.ThrowIfNull(facts);
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(network);
        _time = time ?? throw new ArgumentNullException(nameof(time));
        var now = Timestamps.FormatPrecise(time.GetUtcNow());
        var compute = gpuProbe?.Probe(facts.Gpus)
            ?? GpuComputeInfo.None(facts.Gpus.Count == 0 ? "no GPU detected" : "no GPU runtime is part of this build");
        var computeGpus = compute.Available ? facts.Gpus.Where(g => g.Usable && g.Vendor.Equals("NVIDIA", StringComparison.OrdinalIgnoreCase)) : [];
        var largestGpu = computeGpus.Max(g => g.MemoryBytes) ?? 0;
        _configuredBandwidthMbps = network.BandwidthMbps;
        var (bandwidth, bandwidthSource) = NetworkInterfaces.Bandwidth(network.BandwidthMbps, null, facts.Interfaces);
        _current = new HardwareProfile
        {
            Fingerprint = HardwareFingerprint.Compute(facts),
            CollectedAt = now,
            UpdatedAt = now,
            Os = facts.Os,
            Cpu = facts.Cpu,
            Memory = facts.Memory,
            Storage = facts.Storage,
            Gpus = facts.Gpus,
            GpuCompute = compute,
            Network = new NetworkProfile { Interfaces = facts.Interfaces, BandwidthMbps = bandwidth, BandwidthSource = bandwidthSource },
            Tier = new TierInfo(
                node.NodeTier,
                TierRules.Qualify(facts.Cpu.UsableCores, facts.Memory.UsableBytes, largestGpu),
                TierRules.Shortfalls(node.NodeTier, facts.Cpu.UsableCores, facts.Memory.UsableBytes, largestGpu)),
            LimitsApplied = facts.LimitsApplied,
            NotDetected = facts.NotDetected,
        };
    }

    /// <summary>The latest profile.</summary>
    public HardwareProfile Current => Volatile.Read(ref _current);

    /// <summary>The tier the measured hardware qualifies for (CONTRACTS.md "Tiers").</summary>
    public string QualifiedTier => Current.Tier.Qualified;

    /// <summary>Publishes new dynamic figures: available memory and free storage, and the usable cores and memory where read (a container's limits may change while it runs).</summary>
    public HardwareProfile UpdateDynamic(DynamicHardwareFigures figures)
    {
        ArgumentNullException.ThrowIfNull(figures);
        return Update(p => p with
        {
            UpdatedAt = Timestamps.FormatPrecise(_time.GetUtcNow()),
            Cpu = figures.UsableCores is { } cores and > 0 ? p.Cpu with { UsableCores = cores } : p.Cpu,
            Memory = p.Memory with
            {
                AvailableBytes = figures.AvailableMemoryBytes,
                UsableBytes = figures.UsableMemoryBytes is { } usable and > 0 ? usable : p.Memory.UsableBytes,
            },
            Storage = p.Storage with { FreeBytes = figures.FreeStorageBytes },
        });
    }

    /// <summary>Publishes a benchmark state without new figures (running, skipped, failed).</summary>
    public HardwareProfile SetBenchmarkState(string state, string? error = null) =>
        Update(p => p with { BenchmarkRun = p.BenchmarkRun with { State = state, Error = error } });

    /// <summary>Puts back a benchmark state read earlier (a run stopped by shutdown leaves things as they were).</summary>
    public HardwareProfile RestoreBenchmarkRun(BenchmarkRunInfo run) =>
        Update(p => p with { BenchmarkRun = run });

    /// <summary>Publishes measured (or cached) benchmark figures.</summary>
    public HardwareProfile PublishBenchmarks(BenchmarkResult result, bool cached)
    {
        ArgumentNullException.ThrowIfNull(result);
        return Update(p => p with
        {
            Benchmarks = result.Figures,
            BenchmarkRun = new BenchmarkRunInfo
            {
                State = cached ? BenchmarkState.Cached : BenchmarkState.Measured,
                MeasuredAt = Timestamps.FormatPrecise(result.MeasuredAt),
            },
        });
    }

    /// <summary>Publishes a bandwidth measurement (or its state; null for none) and the bandwidth figure that follows from it.</summary>
    public HardwareProfile PublishBandwidth(BandwidthMeasurement? measurement) => Update(p =>
        {
            var (mbps, source) = NetworkInterfaces.Bandwidth(_configuredBandwidthMbps, measurement, p.Network.Interfaces);
            return p with { Network = p.Network with { Measurement = measurement, BandwidthMbps = mbps, BandwidthSource = source } };
        });

    private HardwareProfile Update(Func<HardwareProfile, HardwareProfile> change)
    {
        lock (_gate)
        {
            var next = change(_current);
            Volatile.Write(ref _current, next);
            return next;
        }
    }
}

/// <summary>One run of the micro-benchmarks.</summary>
public sealed record BenchmarkResult(IReadOnlyDictionary<string, BenchmarkFigure> Figures, DateTimeOffset MeasuredAt);
