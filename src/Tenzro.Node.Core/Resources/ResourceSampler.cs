using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Core.Resources;

/// <summary>
/// The single owner of live usage figures: samples every METRICS_UPDATE_INTERVAL, keeps the latest
/// <see cref="ResourceUsage"/>, and applies the pressure rule. The profile refresh, metrics, health
/// checks and the regional <c>node_status</c> all read <see cref="Current"/> instead of sampling again.
/// </summary>
/// <remarks>Thread-safe: <see cref="Current"/> is an immutable snapshot swapped atomically.</remarks>
public sealed partial class ResourceSampler(
    IUsageSource source,
    PressureMonitor pressure,
    MonitoringOptions options,
    TimeProvider time,
    ILogger<ResourceSampler> logger) : BackgroundService
{
    private UsageReading? _previous;
    private DateTimeOffset _previousAt;
    private volatile ResourceUsage _current = new() { SampledAt = time.GetUtcNow() };

    public ResourceUsage Current => _current;

    /// <summary>Raised after each sample (on the sampler's thread); handlers must be quick.</summary>
    public event Action<ResourceUsage>? Sampled;

    /// <summary>Takes one sample now. Called by the loop; tests call it directly.</summary>
    public ResourceUsage SampleNow()
    {
        var reading = source.Read();
        var now = time.GetUtcNow();
        var usage = Compute(_previous, now - _previousAt, reading, source.Cores, now);
        _previous = reading;
        _previousAt = now;
        _current = usage;
        pressure.Evaluate(usage);
        Sampled?.Invoke(usage);
        return usage;
    }

    /// <summary>
    /// Turns two readings <paramref name="elapsed"/> apart into rates: host CPU percent from the change in
    /// jiffies, the process's CPU percent (of all cores) from its CPU time.
    /// </summary>
    public static ResourceUsage Compute(UsageReading? previous, TimeSpan elapsed, UsageReading current, int cores, DateTimeOffset now)
    {
        double hostCpu = 0, processCpu = 0;
        if (previous is not null)
        {
            var total = current.CpuTotal - previous.CpuTotal;
            var idle = current.CpuIdle - previous.CpuIdle;
            hostCpu = total > 0 ? Math.Clamp(100.0 * (total - idle) / total, 0, 100) : 0;
            if (elapsed > TimeSpan.Zero)
            {
                processCpu = Math.Clamp(100.0 * (current.ProcessCpuTime - previous.ProcessCpuTime).TotalSeconds / (elapsed.TotalSeconds * Math.Max(1, cores)), 0, 100);
            }
        }

        return new ResourceUsage
        {
            SampledAt = now,
            HostCpuPercent = Math.Round(hostCpu, 2),
            MemoryTotalBytes = current.MemoryTotalBytes,
            MemoryAvailableBytes = current.MemoryAvailableBytes,
            StorageTotalBytes = current.StorageTotalBytes,
            StorageFreeBytes = current.StorageFreeBytes,
            ProcessCpuPercent = Math.Round(processCpu, 2),
            ProcessMemoryBytes = current.ProcessMemoryBytes,
            NetworkReceivedBytes = current.NetworkReceivedBytes,
            NetworkSentBytes = current.NetworkSentBytes,
            Gpus = current.Gpus,
        };
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.MetricsUpdateInterval, time);
        do
        {
            try
            {
                SampleNow();
            }
            catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
            {
                LogSampleFailed(logger, e);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = Diagnostics.LogEvents.SampleFailed, Level = LogLevel.Warning, Message = "Sampling resource usage failed; keeping the previous figures")]
    private static partial void LogSampleFailed(ILogger logger, Exception exception);
}

/// <summary>
/// Stops task intake when host memory or DATA_DIR's storage crosses its critical threshold, and reopens it
/// with hysteresis: only once usage is back below the threshold minus <see cref="HysteresisPercent"/>, so a
/// value hovering at the line does not flap.
/// </summary>
public sealed partial class PressureMonitor(IntakeState intake, ResourceOptions options, ILogger<PressureMonitor> logger)
{
    public const double HysteresisPercent = 5;

    private bool _memoryHigh;
    private bool _storageHigh;

    /// <summary>Applies the rule to one sample. Called only by the sampler's thread.</summary>
    public void Evaluate(ResourceUsage usage)
    {
        _memoryHigh = Crossed(_memoryHigh, usage.MemoryUsedPercent, options.CriticalMemoryPercent);
        _storageHigh = Crossed(_storageHigh, usage.StorageUsedPercent, options.CriticalStoragePercent);
        var reasons = new List<string>();
        if (_memoryHigh)
        {
            reasons.Add($"memory at {usage.MemoryUsedPercent:F1}% is above CRITICAL_MEMORY_PERCENT {options.CriticalMemoryPercent}%");
        }

        if (_storageHigh)
        {
            reasons.Add($"storage at {usage.StorageUsedPercent:F1}% is above CRITICAL_STORAGE_PERCENT {options.CriticalStoragePercent}%");
        }

        var reason = reasons.Count == 0 ? null : string.Join("; ", reasons);
        if (reason != intake.Pressure)
        {
            if (reason is null)
            {
                LogPressureCleared(logger);
            }
            else if (intake.Pressure is null)
            {
                LogPressure(logger, reason);
            }

            intake.SetPressure(reason);
        }
    }

    private static bool Crossed(bool wasHigh, double percent, double critical) =>
        wasHigh ? percent > critical - HysteresisPercent : percent > critical;

    [LoggerMessage(EventId = Diagnostics.LogEvents.PressureEntered, Level = LogLevel.Warning, Message = "Not taking new tasks: {Reason}")]
    private static partial void LogPressure(ILogger logger, string reason);

    [LoggerMessage(EventId = Diagnostics.LogEvents.PressureCleared, Level = LogLevel.Information, Message = "Resource pressure is over; taking tasks again")]
    private static partial void LogPressureCleared(ILogger logger);
}
