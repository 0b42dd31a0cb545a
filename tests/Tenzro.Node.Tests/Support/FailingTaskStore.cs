using System.Collections.Concurrent;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Tests.Support;

/// <summary>
/// A task store that fails on demand: wraps another store and throws, on the writes named with <see cref="Fail"/>, the
/// exception given (<see cref="DiskFull"/> is the one a full disk raises) until <see cref="Heal"/>, and holds back those
/// named with <see cref="Hold"/> until <see cref="Let"/>. Reads always pass.
/// Counts every write it refused, by name.
/// </summary>
public sealed class FailingTaskStore(ITaskStore inner) : ITaskStore
{
    private readonly ConcurrentDictionary<string, Func<Exception>> _failing = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _held = new(StringComparer.Ordinal);

    /// <summary>What a full disk raises (ENOSPC), which the engine's disk-full handling recognises.</summary>
    public static Exception DiskFull() => new IOException("No space left on device", 28);

    public ConcurrentDictionary<string, int> Refused { get; } = new(StringComparer.Ordinal);

    /// <summary>Every write it passed on, by name.</summary>
    public ConcurrentDictionary<string, int> Written { get; } = new(StringComparer.Ordinal);

    /// <summary>Makes the write <paramref name="operation"/> (a method name, e.g. <c>nameof(ITaskStore.MarkFinishedAsync)</c>) throw.</summary>
    public void Fail(string operation, Func<Exception> exception) => _failing[operation] = exception;

    public void Heal() => _failing.Clear();

    /// <summary>Holds the writes named <paramref name="operation"/> back (they wait, not fail) until <see cref="Let"/>.</summary>
    public void Hold(string operation) => _held[operation] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Lets the held writes named <paramref name="operation"/> go on.</summary>
    public void Let(string operation)
    {
        if (_held.TryRemove(operation, out var gate))
        {
            gate.TrySetResult();
        }
    }

    public Task<bool> InsertAsync(TaskRecord record) => Write(nameof(InsertAsync), () => inner.InsertAsync(record));

    public Task<TaskRecord?> InsertFinishedAsync(TaskRecord submitted, TaskState state, DateTimeOffset finishedAt, DateTimeOffset expiresAt, string? result, string? digest, string? error, DateTimeOffset? startedAt = null, int? attempts = null) =>
        Write(nameof(InsertFinishedAsync), () => inner.InsertFinishedAsync(submitted, state, finishedAt, expiresAt, result, digest, error, startedAt, attempts));

    public Task MarkRunningAsync(string taskId, DateTimeOffset startedAt, int attempts) => Write(nameof(MarkRunningAsync), () => inner.MarkRunningAsync(taskId, startedAt, attempts));

    public Task RequeueAsync(string taskId, int attempts) => Write(nameof(RequeueAsync), () => inner.RequeueAsync(taskId, attempts));

    public Task MarkFinishedAsync(string taskId, TaskState state, DateTimeOffset finishedAt, DateTimeOffset expiresAt, string? result, string? digest, string? error, DateTimeOffset? startedAt = null, int? attempts = null) =>
        Write(nameof(MarkFinishedAsync), () => inner.MarkFinishedAsync(taskId, state, finishedAt, expiresAt, result, digest, error, startedAt, attempts));

    public Task SetProgressAsync(string taskId, double progress) => Write(nameof(SetProgressAsync), () => inner.SetProgressAsync(taskId, progress));

    public Task<int> PurgeTombstonesAsync(DateTimeOffset cutoff) => Write(nameof(PurgeTombstonesAsync), () => inner.PurgeTombstonesAsync(cutoff));

    public Task<IReadOnlyList<string>> ExpireResultsAsync(DateTimeOffset now) => Write(nameof(ExpireResultsAsync), () => inner.ExpireResultsAsync(now));

    public TaskRecord? Get(string taskId) => inner.Get(taskId);

    public IReadOnlyList<TaskRecord> LoadUnfinished() => inner.LoadUnfinished();

    public TaskPage List(TaskState? state, string? type, int limit, string? cursor) => inner.List(state, type, limit, cursor);

    public bool StoredBlob(IReadOnlyCollection<string> owners, string sha256) => inner.StoredBlob(owners, sha256);

    public long StoredBytes() => inner.StoredBytes();

    public TaskCounts Counts() => inner.Counts();

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private async Task<T> Write<T>(string operation, Func<Task<T>> write)
    {
        if (_held.TryGetValue(operation, out var gate))
        {
            await gate.Task;
        }

        Refuse(operation);
        Written.AddOrUpdate(operation, 1, (_, n) => n + 1);
        return await write();
    }

    private async Task Write(string operation, Func<Task> write)
    {
        if (_held.TryGetValue(operation, out var gate))
        {
            await gate.Task;
        }

        Refuse(operation);
        Written.AddOrUpdate(operation, 1, (_, n) => n + 1);
        await write();
    }

    private void Refuse(string operation)
    {
        if (_failing.TryGetValue(operation, out var exception))
        {
            Refused.AddOrUpdate(operation, 1, (_, n) => n + 1);
            throw exception();
        }
    }
}
