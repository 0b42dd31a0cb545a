using Microsoft.Data.Sqlite;
using Tenzro.Node.Core.Storage;

namespace Tenzro.Node.Core.Tasks;

public sealed partial class TaskEngine
{
    /// <summary>The longest wait between two tries to store a task's final state.</summary>
    public static readonly TimeSpan FinalWriteMaxBackoff = TimeSpan.FromSeconds(5);

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
