using System.Globalization;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Core.Hardware;

/// <summary>
/// Measures the node's bandwidth against BANDWIDTH_TEST_URL at start-up (or publishes a measurement of
/// that target still younger than BANDWIDTH_TEST_INTERVAL), then every interval, and on request; publishes
/// each result to the profile, whose <c>network.bandwidthMbps</c> node_status reports.
/// </summary>
/// <remarks>
/// Thread-safe. One measurement runs at a time (two would share the link and halve each other); a request
/// while one runs joins it. <see cref="Cancel"/> (host shutdown) stops a measurement in progress.
/// </remarks>
public sealed partial class BandwidthMonitor(
    HardwareProfiler profiler,
    BandwidthProbe probe,
    BandwidthStore store,
    NetworkOptions options,
    BandwidthLimits limits,
    TimeProvider time,
    ILogger<BandwidthMonitor> logger) : IDisposable
{
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _shutdown = new();
    private Task<BandwidthMeasurement>? _running;

    /// <summary>BANDWIDTH_TEST_URL; null when the node measures only on request.</summary>
    public Uri? ConfiguredTarget => options.BandwidthTestUrl;

    /// <summary>
    /// Measures against <paramref name="target"/> now, or joins the measurement in progress (whatever its
    /// target). The result is what this attempt measured, or state failed with the reason; the profile
    /// shows a success, and keeps the last good figures through a failure (of the same target: with state
    /// failed and the reason; of another target given on request: unchanged).
    /// </summary>
    public Task<BandwidthMeasurement> MeasureAsync(Uri target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        lock (_gate)
        {
            if (_running is null || _running.IsCompleted)
            {
                var before = profiler.Current.Network.Measurement;
                if (before?.Target == target.ToString())
                {
                    profiler.PublishBandwidth(before with { State = BandwidthState.Running });
                }
                else if (before?.DownloadMbps is null)
                {
                    profiler.PublishBandwidth(new BandwidthMeasurement { Target = target.ToString(), State = BandwidthState.Running });
                }

                _running = Task.Run(() => MeasureOnceAsync(target, before), CancellationToken.None);
            }

            return _running.WaitAsync(cancellationToken);
        }
    }

    /// <summary>The background schedule; returns at once when BANDWIDTH_TEST_URL is not set.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        if (options.BandwidthTestUrl is not { } target)
        {
            return;
        }

        var interval = options.BandwidthTestInterval;
        var wait = TimeSpan.Zero;
        if (interval > TimeSpan.Zero && store.Find(target) is { MeasuredAt: { } measuredAt } cached)
        {
            var age = time.GetUtcNow() - DateTimeOffset.Parse(measuredAt, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
            if (age >= TimeSpan.Zero && age < interval)
            {
                profiler.PublishBandwidth(cached with { State = BandwidthState.Cached });
                wait = interval - age;
            }
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time, stoppingToken);
            }

            await MeasureAsync(target, stoppingToken);
            if (interval == TimeSpan.Zero)
            {
                return;
            }

            wait = interval;
        }
    }

    /// <summary>Stops a measurement in progress; idempotent.</summary>
    public void Cancel()
    {
        if (!_shutdown.IsCancellationRequested)
        {
            _shutdown.Cancel();
        }
    }

    public void Dispose()
    {
        Cancel();
        _shutdown.Dispose();
    }

    private async Task<BandwidthMeasurement> MeasureOnceAsync(Uri target, BandwidthMeasurement? before)
    {
        try
        {
            var measurement = await probe.MeasureAsync(target, limits, _shutdown.Token);
            store.Save(measurement);
            LogMeasured(logger, target, measurement.DownloadMbps, measurement.UploadMbps, measurement.LatencyMs, measurement.Error ?? "");
            profiler.PublishBandwidth(measurement);
            return measurement;
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
        {
            Settle(before, null);
            return (before ?? new BandwidthMeasurement { Target = target.ToString(), State = BandwidthState.Failed }) with { Error = "the node is shutting down" };
        }
        catch (Exception e)
        {
            // The edge of a measurement: an unreachable target or a full store must not take the node down.
            LogFailed(logger, target, e.Message);
            var failed = new BandwidthMeasurement { Target = target.ToString(), State = BandwidthState.Failed, Error = e.Message };
            Settle(before, failed);
            return failed;
        }
    }

    /// <summary>After a failed or stopped attempt the earlier figures stay; a failure of their own target marks them failed.</summary>
    private void Settle(BandwidthMeasurement? before, BandwidthMeasurement? failed)
    {
        var next = before?.DownloadMbps is null
            ? failed ?? before
            : failed is not null && before.Target == failed.Target ? before with { State = BandwidthState.Failed, Error = failed.Error } : before;
        profiler.PublishBandwidth(next);
    }

    [LoggerMessage(EventId = Diagnostics.LogEvents.BandwidthMeasured, Level = LogLevel.Information,
        Message = "Bandwidth against {Target}: {DownloadMbps} Mbps down, {UploadMbps} Mbps up, {LatencyMs} ms to first answer {Note}")]
    private static partial void LogMeasured(ILogger logger, Uri target, double? downloadMbps, double? uploadMbps, double? latencyMs, string note);

    [LoggerMessage(EventId = Diagnostics.LogEvents.BandwidthFailed, Level = LogLevel.Warning,
        Message = "Bandwidth measurement against {Target} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, Uri target, string reason);
}
