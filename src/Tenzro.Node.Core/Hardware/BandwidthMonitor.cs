using System.Globalization;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Core.Hardware;

/// <summary>
/// Measures the node's bandwidth against BANDWIDTH_TEST_URL at start-up (or publishes a measurement of
/// that target still younger than BANDWIDTH_TEST_INTERVAL), then every interval, and on request; publishes
/// each result to the profile, whose <c>network.bandwidthMbps</c> node_status reports. A measurement of any
/// other target (asked for on request) is a diagnosis: it is answered, never published or stored.
/// </summary>
/// <remarks>
/// Thread-safe. Measurements run one after another (two at once would share the link and halve each other).
/// Requests for BANDWIDTH_TEST_URL join the measurement of it in progress; a diagnosis belongs to its caller
/// alone and stops (queued or running) when the caller goes away. <see cref="Cancel"/> (host shutdown)
/// stops a measurement in progress.
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

    // Never disposed: a measurement still unwinding at shutdown releases it, and it holds no wait handle.
    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly CancellationTokenSource _shutdown = new();
    private Task<BandwidthMeasurement>? _configured;

    /// <summary>BANDWIDTH_TEST_URL; null when the node measures only on request.</summary>
    public Uri? ConfiguredTarget => options.BandwidthTestUrl;

    /// <summary>
    /// Measures against <paramref name="target"/> once any measurement in progress has ended, and returns
    /// what was measured, or state failed with the reason. A measurement of <see cref="ConfiguredTarget"/>
    /// is shared by every caller asking for it meanwhile and reaches the profile (a failure keeps its last
    /// good figures there, marked failed); one of any other target stops when <paramref name="cancellationToken"/> fires.
    /// </summary>
    public Task<BandwidthMeasurement> MeasureAsync(Uri target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target != options.BandwidthTestUrl)
        {
            return MeasureInTurnAsync(target, reported: false, cancellationToken);
        }

        lock (_gate)
        {
            if (_configured is null || _configured.IsCompleted)
            {
                _configured = Task.Run(() => MeasureInTurnAsync(target, reported: true, CancellationToken.None), CancellationToken.None);
            }

            return _configured.WaitAsync(cancellationToken);
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
        if (interval > TimeSpan.Zero && FindStored(target) is { } cached)
        {
            // The last good figures are shown in any case; they stand for the target until the interval ends.
            var age = time.GetUtcNow() - cached.At;
            var fresh = age >= TimeSpan.Zero && age < interval;
            profiler.PublishBandwidth(cached.Measurement with { State = fresh ? BandwidthState.Cached : BandwidthState.Measured });
            wait = fresh ? interval - age : TimeSpan.Zero;
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
        lock (_gate)
        {
            if (!_shutdown.IsCancellationRequested)
            {
                _shutdown.Cancel();
            }
        }
    }

    /// <summary>Stops what runs; the token source is left to the collector, since a measurement unwinding after shutdown still reads it.</summary>
    public void Dispose() => Cancel();

    private async Task<BandwidthMeasurement> MeasureInTurnAsync(Uri target, bool reported, CancellationToken caller)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token, caller);
        try
        {
            await _turn.WaitAsync(stop.Token);
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
        {
            return ShuttingDown(target);
        }

        try
        {
            return await MeasureOnceAsync(target, reported, stop.Token);
        }
        finally
        {
            _turn.Release();
        }
    }

    private async Task<BandwidthMeasurement> MeasureOnceAsync(Uri target, bool reported, CancellationToken stop)
    {
        var before = profiler.Current.Network.Measurement;
        if (reported)
        {
            profiler.PublishBandwidth(before?.DownloadMbps is null
                ? new BandwidthMeasurement { Target = target.ToString(), State = BandwidthState.Running }
                : before with { State = BandwidthState.Running });
        }

        BandwidthMeasurement measurement;
        try
        {
            measurement = await probe.MeasureAsync(target, limits, stop);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            if (reported)
            {
                profiler.PublishBandwidth(before);
            }

            if (_shutdown.IsCancellationRequested)
            {
                return ShuttingDown(target);
            }

            // The caller of a diagnosis went away: nobody reads the answer.
            throw;
        }
        catch (Exception e)
        {
            // The edge of a measurement: an unreachable target or a bad answer must not take the node down.
            LogFailed(logger, target, e.Message);
            if (reported)
            {
                profiler.PublishBandwidth(before?.DownloadMbps is null
                    ? new BandwidthMeasurement { Target = target.ToString(), State = BandwidthState.Failed, Error = e.Message }
                    : before with { State = BandwidthState.Failed, Error = e.Message });
            }

            return new BandwidthMeasurement { Target = target.ToString(), State = BandwidthState.Failed, Error = e.Message };
        }

        LogMeasured(logger, target, measurement.DownloadMbps, measurement.UploadMbps, measurement.LatencyMs, measurement.Error ?? "");
        if (reported)
        {
            profiler.PublishBandwidth(measurement);
            Save(measurement);
        }

        return measurement;
    }

    private (BandwidthMeasurement Measurement, DateTimeOffset At)? FindStored(Uri target)
    {
        try
        {
            return store.Find(target) is { MeasuredAt: { } at } found
                && DateTimeOffset.TryParse(at, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var measuredAt)
                ? (found, measuredAt)
                : null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // An unreadable store is a cache miss: the node measures again.
            LogStoreFailed(logger, e);
            return null;
        }
    }

    private void Save(BandwidthMeasurement measurement)
    {
        try
        {
            store.Save(measurement);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The figures are published already; only the reuse after a restart is lost.
            LogStoreFailed(logger, e);
        }
    }

    private static BandwidthMeasurement ShuttingDown(Uri target) =>
        new() { Target = target.ToString(), State = BandwidthState.Failed, Error = "the node is shutting down" };

    [LoggerMessage(EventId = Diagnostics.LogEvents.BandwidthMeasured, Level = LogLevel.Information,
        Message = "Bandwidth against {Target}: {DownloadMbps} Mbps down, {UploadMbps} Mbps up, {LatencyMs} ms round trip {Note}")]
    private static partial void LogMeasured(ILogger logger, Uri target, double? downloadMbps, double? uploadMbps, double? latencyMs, string note);

    [LoggerMessage(EventId = Diagnostics.LogEvents.BandwidthFailed, Level = LogLevel.Warning,
        Message = "Bandwidth measurement against {Target} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, Uri target, string reason);

    [LoggerMessage(EventId = Diagnostics.LogEvents.BandwidthStoreFailed, Level = LogLevel.Warning,
        Message = "The stored bandwidth measurement cannot be read or written; the node measures again at start-up")]
    private static partial void LogStoreFailed(ILogger logger, Exception exception);
}
