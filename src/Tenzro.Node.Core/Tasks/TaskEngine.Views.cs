namespace Tenzro.Node.Core.Tasks;

/// <summary>The engine's read side: tasks as callers see them. Nothing outside the engine reads its store.</summary>
public sealed partial class TaskEngine
{
    /// <summary>The stored record of a task; null when unknown.</summary>
    public TaskRecord? Get(string taskId) => _store.Get(taskId);

    /// <summary>A task as a caller sees it, or null when unknown.</summary>
    /// <remarks>A finished task's record may come from the store's memory (<see cref="ITaskStore.GetForStatus"/>): a view shows no data or config.</remarks>
    public TaskView? View(string taskId) => _store.GetForStatus(taskId) is { } record ? ViewOf(record) : null;

    /// <summary>A page of tasks, newest first, as callers see them.</summary>
    public (IReadOnlyList<TaskView> Items, string? NextCursor) List(TaskState? state, string? type, int limit, string? cursor)
    {
        var page = _store.List(state, type, limit, cursor);
        return ([.. page.Items.Select(ViewOf)], page.NextCursor);
    }

    /// <summary>Whether a task of one of these owners stored the blob.</summary>
    public bool OwnsBlob(IReadOnlyCollection<string> owners, string sha256) => _store.StoredBlob(owners, sha256);

    /// <summary>Tasks by state, from the store.</summary>
    public TaskCounts Counts() => _store.Counts();

    /// <summary>Merges a stored record with the live run under one lock.</summary>
    public TaskView ViewOf(TaskRecord record)
    {
        var reservation = _ledger.ReservationOf(record.TaskId);
        lock (_lock)
        {
            var running = _running.TryGetValue(record.TaskId, out var live) ? live : null;
            if (running is not null && record.State is TaskState.Queued or TaskState.Pending)
            {
                // A task that holds a run slot shows as running before its running state is written.
                record = record with { State = TaskState.Running, StartedAt = running.PickedAt, Attempts = running.Entry.Attempts + 1 };
            }

            var isRunning = record.State == TaskState.Running;
            return new TaskView
            {
                Record = record,
                Progress = isRunning ? running?.Progress ?? record.Progress : record.Progress,
                Reservation = reservation,
                WaitingFor = record.State == TaskState.Queued ? WaitingReason(record.TaskId) : null,
                Paused = isRunning && IsPaused(record.TaskId),
                PauseReason = isRunning ? PauseReason(record.TaskId) : null,
                Estimate = _costs?.EstimateOf(record.TaskId),
            };
        }
    }
}
