using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Tenzro.Node.Core.Storage;

namespace Tenzro.Node.Core.Tasks;

public sealed partial class TaskEngine
{
    /// <summary>The longest wait between two tries to store a task's final state.</summary>
    public static readonly TimeSpan FinalWriteMaxBackoff = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Runs the task, and runs it again after a capped backoff each time it fails because the disk is full: that is the
    /// node's resource, not the task's fault, so it neither fails the task nor counts an attempt. The task keeps its
    /// slot meanwhile and its timeout runs on; cancellation, timeout and shutdown end the wait as they end a run.
    /// </summary>
    private async Task<JsonObject> ExecuteWhileDiskFullAsync(ITaskRuntime runtime, TaskExecutionContext context, CancellationToken cancellationToken)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await runtime.ExecuteAsync(context).WaitAsync(cancellationToken);
            }
            catch (Exception e) when (DiskFull.Is(e) && !cancellationToken.IsCancellationRequested)
            {
                Log.RunDiskFull(_logger, e, context.Task.TaskId, attempt, backoff.TotalSeconds);
                await Task.Delay(backoff, _time, cancellationToken);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, FinalWriteMaxBackoff.Ticks));
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="write"/> (a task's final state) until the store takes it, retrying with capped exponential
    /// backoff while it refuses (a full disk, an I/O error). Until then the task keeps its run slot and reservation and
    /// shows as running, so it is never left queued in the store after leaving the engine, and it ends by itself once
    /// space returns. Gives up only when the node stops: the stored state then says where the next start resumes.
    /// </summary>
    private async Task StoreFinalStateAsync(Func<Task> write, string taskId)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await write();
                return;
            }
            catch (Exception e) when (e is SqliteException or StoreException or IOException && !Volatile.Read(ref _stopping))
            {
                Log.FinalWriteFailed(_logger, e, taskId, attempt, backoff.TotalSeconds);
                await Task.Delay(backoff, _time);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, FinalWriteMaxBackoff.Ticks));
            }
        }
    }
}
