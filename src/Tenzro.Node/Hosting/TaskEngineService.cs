using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Hosting;

/// <summary>
/// Starts the task engine with the host and stops it (requeueing running tasks) on shutdown. The split runner is set
/// first, so that a split parent recovered from the queue waits for the group rather than run whole.
/// </summary>
internal sealed class TaskEngineService(TaskEngine engine, ITaskStore store, IEnumerable<ISplitRunner> splits) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (splits.FirstOrDefault() is { } runner)
        {
            engine.UseSplitRunner(runner);
        }

        return engine.StartAsync();
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await engine.StopAsync();
        await store.DisposeAsync();
    }
}

/// <summary>
/// Drops results once RESULT_RETENTION_PERIOD has passed (the result endpoint then answers 410), the tombstones one
/// more period later (at least a minute; the task is then unknown), and stored blobs whose retention ended.
/// </summary>
internal sealed partial class ResultSweeper(ITaskStore store, TaskEngine engine, Core.Storage.BlobRetention blobs, Core.Configuration.TaskOptions options, TimeProvider time, ILogger<ResultSweeper> logger) : BackgroundService
{
    /// <summary>How long a task's tombstone outlives its result: one more RESULT_RETENTION_PERIOD, at least a minute.</summary>
    private TimeSpan TombstoneKept => options.ResultRetentionPeriod > TimeSpan.FromMinutes(1) ? options.ResultRetentionPeriod : TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = TimeSpan.FromTicks(Math.Clamp(options.ResultRetentionPeriod.Ticks / 4, TimeSpan.FromSeconds(1).Ticks, TimeSpan.FromMinutes(5).Ticks));
        using var timer = new PeriodicTimer(period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    // Batch after batch until one comes back short, so that a busy node never falls behind;
                    // other writes go between the batches.
                    var now = time.GetUtcNow();
                    int expired = 0, dropped = 0, purged = 0, batch;
                    do
                    {
                        expired += batch = (await store.ExpireResultsAsync(now)).Count;
                    }
                    while (batch == ITaskStore.ExpireBatch && !stoppingToken.IsCancellationRequested);

                    // A tombstone answers 410 for one more retention period (at least a minute), then the task is forgotten (404).
                    do
                    {
                        purged += batch = await store.PurgeTombstonesAsync(now - TombstoneKept);
                    }
                    while (batch == ITaskStore.ExpireBatch && !stoppingToken.IsCancellationRequested);

                    do
                    {
                        dropped += batch = (await blobs.SweepAsync(now, stoppingToken)).Count;
                    }
                    while (batch == Core.Storage.BlobRetention.SweepBatch && !stoppingToken.IsCancellationRequested);

                    if (expired > 0 || dropped > 0 || purged > 0)
                    {
                        engine.RecountStoredBytes();
                        LogExpired(logger, expired, dropped, purged);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogSweepFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = LogEvents.ResultsExpired, Level = LogLevel.Information, Message = "Dropped {Count} expired task results, {Blobs} expired blobs and {Tombstones} task tombstones past a second retention period")]
    private static partial void LogExpired(ILogger logger, int count, int blobs, int tombstones);

    [LoggerMessage(EventId = LogEvents.ResultSweepFailed, Level = LogLevel.Warning, Message = "Expiring task results failed; retrying at the next sweep")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
