using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Core.Hardware.Benchmarks;

/// <summary>
/// Runs the micro-benchmarks at most once at a time, publishes the figures to the profiler and caches
/// them in the store under the hardware fingerprint.
/// </summary>
/// <remarks>
/// Thread-safe. Concurrent <see cref="RunAsync"/> callers share one run. A run stops between benchmarks
/// once <see cref="Cancel"/> is called (host shutdown); a caller's token only stops its own wait.
/// </remarks>
public sealed partial class HardwareBenchmarks(
    HardwareProfiler profiler,
    BenchmarkStore store,
    BenchmarkSuite suite,
    StorageOptions storage,
    TimeProvider time,
    ILogger<HardwareBenchmarks> logger) : IDisposable
{
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _shutdown = new();
    private Task<HardwareProfile>? _running;

    /// <summary>
    /// The start-up step: publishes the cached figures when the fingerprint matches a stored row; else runs
    /// the benchmarks when <paramref name="runWhenMissing"/> (BENCHMARK_ON_START), or marks them skipped.
    /// </summary>
    public Task<HardwareProfile> LoadOrRunAsync(bool runWhenMissing, CancellationToken cancellationToken)
    {
        var cached = store.Find(profiler.Current.Fingerprint);
        if (cached is not null)
        {
            return Task.FromResult(profiler.PublishBenchmarks(cached, cached: true));
        }

        return runWhenMissing
            ? RunAsync(cancellationToken)
            : Task.FromResult(profiler.SetBenchmarkState(BenchmarkState.Skipped));
    }

    /// <summary>Runs the benchmarks now (or joins the run in progress) and returns the profile with the new figures, or with state failed.</summary>
    public Task<HardwareProfile> RunAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_running is null || _running.IsCompleted)
            {
                var before = profiler.Current.BenchmarkRun;
                profiler.SetBenchmarkState(BenchmarkState.Running);
                _running = Task.Factory.StartNew(() => RunOnce(before), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            }

            return _running.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Stops a run in progress between two benchmarks; idempotent.</summary>
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

    private HardwareProfile RunOnce(BenchmarkRunInfo before)
    {
        var profile = profiler.Current;
        try
        {
            var figures = suite.Run(storage.DataDirectory, profile.Cpu.LogicalCores, _shutdown.Token);
            var result = new BenchmarkResult(figures, time.GetUtcNow());
            store.Save(profile.Fingerprint, result);
            return profiler.PublishBenchmarks(result, cached: false);
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
        {
            return profiler.RestoreBenchmarkRun(before);
        }
        catch (Exception e)
        {
            // The edge of the run: a benchmark that fails (a full disk, an unwritable DATA_DIR) must not take the node down.
            LogFailed(logger, e);
            return profiler.SetBenchmarkState(BenchmarkState.Failed, e.Message);
        }
    }

    [LoggerMessage(EventId = Diagnostics.LogEvents.BenchmarkFailed, Level = LogLevel.Warning, Message = "Hardware benchmarks failed; the profile shows no new figures")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
