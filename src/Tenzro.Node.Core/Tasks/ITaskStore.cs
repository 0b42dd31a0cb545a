namespace Tenzro.Node.Core.Tasks;

/// <summary>
/// Where tasks are kept: <see cref="TaskStore"/> on SQLite for the node, <see cref="MemoryTaskStore"/> for tests and
/// ephemeral use. Writes complete once durable (for the store's meaning of durable); reads return immutable snapshots.
/// </summary>
/// <remarks>
/// Implementations are thread-safe. The engine is the only writer of a task's state. Disposing waits for the writes
/// queued so far to complete.
/// </remarks>
public interface ITaskStore : IAsyncDisposable
{
    /// <summary>The most tasks one expiry batch handles; the sweeper runs batches until one comes back short.</summary>
    const int ExpireBatch = 1000;

    /// <summary>Inserts a new task; completes once it is durable. Returns false if the taskId exists.</summary>
    Task<bool> InsertAsync(TaskRecord record);

    /// <summary>Marks a task running and counts an attempt; ignored once the task is running or final.</summary>
    Task MarkRunningAsync(string taskId, DateTimeOffset startedAt, int attempts);

    /// <summary>Puts a task back in the queue (shutdown or crash recovery).</summary>
    Task RequeueAsync(string taskId, int attempts);

    /// <summary>Records the final state, result and expiry of a task.</summary>
    /// <remarks>
    /// <paramref name="startedAt"/> and <paramref name="attempts"/> record the start of a task whose running
    /// mark was not written separately (it ended before the mark was due); null keeps what is stored.
    /// </remarks>
    Task MarkFinishedAsync(string taskId, TaskState state, DateTimeOffset finishedAt, DateTimeOffset expiresAt, string? result, string? digest, string? error, DateTimeOffset? startedAt = null, int? attempts = null);

    /// <summary>
    /// The record a status shows (<c>GET /api/tasks/{id}</c>): as <see cref="Get"/>, except that a store may keep finished
    /// tasks' records in memory for it. Its <see cref="TaskRecord.Spec"/> may be shared with other status reads, so a caller
    /// reads only the spec's scalar fields (never its <c>data</c> or <c>config</c>), and changes nothing.
    /// </summary>
    TaskRecord? GetForStatus(string taskId) => Get(taskId);

    /// <summary>
    /// <see cref="MarkFinishedAsync"/> for the task of <paramref name="spec"/>, returning its final record (null when no
    /// such task is stored): the record's spec is <paramref name="spec"/>, so a store may build it without reading back
    /// and parsing the stored task.
    /// </summary>
    async Task<TaskRecord?> FinishAsync(TaskSpec spec, TaskState state, DateTimeOffset finishedAt, DateTimeOffset expiresAt, string? result, string? digest, string? error, DateTimeOffset? startedAt = null, int? attempts = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        await MarkFinishedAsync(spec.TaskId, state, finishedAt, expiresAt, result, digest, error, startedAt, attempts).ConfigureAwait(false);
        return Get(spec.TaskId);
    }

    /// <summary>
    /// Inserts a new task and records its end, as <see cref="InsertAsync"/> then <see cref="FinishAsync"/>, for a run that
    /// ended before its submission was written (<see cref="ITaskRuntime.StartsBeforeStored"/>). Returns the final record,
    /// or null, having written nothing, when the taskId exists. This default writes twice, which suits a store whose
    /// writes cannot fail (the memory store); a store whose second write could fail after the first is stored must write
    /// both at once, as the SQLite store does (one transaction, one commit).
    /// </summary>
    async Task<TaskRecord?> InsertFinishedAsync(TaskRecord submitted, TaskState state, DateTimeOffset finishedAt, DateTimeOffset expiresAt, string? result, string? digest, string? error, DateTimeOffset? startedAt = null, int? attempts = null)
    {
        ArgumentNullException.ThrowIfNull(submitted);
        return await InsertAsync(submitted).ConfigureAwait(false)
            ? await FinishAsync(submitted.Spec, state, finishedAt, expiresAt, result, digest, error, startedAt, attempts).ConfigureAwait(false)
            : null;
    }

    /// <summary>Stores the progress of a running task; not awaited by the engine on the hot path.</summary>
    Task SetProgressAsync(string taskId, double progress);

    /// <summary>
    /// Deletes up to <see cref="ExpireBatch"/> tombstones of tasks whose result expired before <paramref name="cutoff"/>:
    /// after that the task is unknown (404). Returns how many it deleted.
    /// </summary>
    Task<int> PurgeTombstonesAsync(DateTimeOffset cutoff);

    /// <summary>
    /// Drops the results and data of up to <see cref="ExpireBatch"/> tasks whose retention ended before <paramref name="now"/>,
    /// keeping a tombstone so that the result endpoint can answer 410 instead of 404. Returns the ids expired.
    /// </summary>
    Task<IReadOnlyList<string>> ExpireResultsAsync(DateTimeOffset now);

    TaskRecord? Get(string taskId);

    /// <summary>Tasks that are not final, in queue order: used to rebuild the queue at start.</summary>
    IReadOnlyList<TaskRecord> LoadUnfinished();

    /// <summary>A page of tasks, newest first, optionally filtered.</summary>
    TaskPage List(TaskState? state, string? type, int limit, string? cursor);

    /// <summary>Whether a completed <c>store</c> task of one of <paramref name="owners"/> stored the blob <paramref name="sha256"/>.</summary>
    bool StoredBlob(IReadOnlyCollection<string> owners, string sha256);

    /// <summary>Bytes of the inputs and results the store keeps (tasks whose results have not expired).</summary>
    long StoredBytes();

    TaskCounts Counts();
}
