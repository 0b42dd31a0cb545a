using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Tenzro.Node.Core.Tasks;

/// <summary>
/// Tasks kept in memory with the semantics of the SQLite <see cref="TaskStore"/> (each task stored in its stored form,
/// so a read returns a copy; a late running mark never overwrites a final state; expiry keeps a tombstone): the store
/// of the engine's unit tests and of ephemeral use, where nothing must outlive the process. Writes complete at once.
/// </summary>
/// <remarks>Thread-safe: one lock around the rows.</remarks>
public sealed class MemoryTaskStore : ITaskStore
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<long, Row> _bySequence = [];
    private readonly Dictionary<string, Row> _byId = new(StringComparer.Ordinal);
    private long _sequence;

    public Task<bool> InsertAsync(TaskRecord record)
    {
        lock (_lock)
        {
            if (_byId.ContainsKey(record.TaskId))
            {
                return Task.FromResult(false);
            }

            var row = new Row(++_sequence, TaskParser.ToStored(record.Spec), record.ContentHash, record.SubmittedAt.ToUniversalTime())
            {
                State = record.State,
                Attempts = record.Attempts,
                StartedAt = record.StartedAt?.ToUniversalTime(),
            };
            _byId[record.TaskId] = row;
            _bySequence[row.Sequence] = row;
            return Task.FromResult(true);
        }
    }

    public Task MarkRunningAsync(string taskId, DateTimeOffset startedAt, int attempts) => Update(taskId, row =>
    {
        if (row.State is TaskState.Pending or TaskState.Queued)
        {
            row.State = TaskState.Running;
            row.StartedAt = startedAt.ToUniversalTime();
            row.Attempts = attempts;
            row.Progress = 0;
        }
    });

    public Task RequeueAsync(string taskId, int attempts) => Update(taskId, row =>
    {
        row.State = TaskState.Queued;
        row.StartedAt = null;
        row.Attempts = attempts;
        row.Progress = 0;
    });

    public Task MarkFinishedAsync(string taskId, TaskState state, DateTimeOffset finishedAt, DateTimeOffset expiresAt, string? result, string? digest, string? error, DateTimeOffset? startedAt = null, int? attempts = null) => Update(taskId, row =>
    {
        row.State = state;
        row.FinishedAt = finishedAt.ToUniversalTime();
        row.ExpiresAt = expiresAt.ToUniversalTime();
        row.Result = result;
        row.Digest = digest;
        row.Error = error;
        row.Progress = state == TaskState.Completed ? 1 : row.Progress;
        row.StartedAt ??= startedAt?.ToUniversalTime();
        row.Attempts = attempts ?? row.Attempts;
    });

    public Task SetProgressAsync(string taskId, double progress) => Update(taskId, row =>
    {
        if (row.State == TaskState.Running)
        {
            row.Progress = progress;
        }
    });

    public Task<int> PurgeTombstonesAsync(DateTimeOffset cutoff)
    {
        lock (_lock)
        {
            var purged = _bySequence.Values.Where(r => r.Expired && r.ExpiresAt < cutoff).Take(ITaskStore.ExpireBatch).ToList();
            foreach (var row in purged)
            {
                _bySequence.Remove(row.Sequence);
                _byId.Remove(TaskParser.FromStored(row.Body).TaskId);
            }

            return Task.FromResult(purged.Count);
        }
    }

    public Task<IReadOnlyList<string>> ExpireResultsAsync(DateTimeOffset now)
    {
        lock (_lock)
        {
            IReadOnlyList<string> ids = [.. _byId.Where(p => !p.Value.Expired && p.Value.ExpiresAt < now).Take(ITaskStore.ExpireBatch).Select(p => p.Key)];
            foreach (var id in ids)
            {
                var row = _byId[id];
                row.Expired = true;
                row.Result = null;
                row.Body = TaskParser.ToStored(TaskParser.FromStored(row.Body) with { Data = new JsonObject() });
            }

            return Task.FromResult(ids);
        }
    }

    public TaskRecord? Get(string taskId)
    {
        lock (_lock)
        {
            return _byId.TryGetValue(taskId, out var row) ? row.ToRecord() : null;
        }
    }

    public IReadOnlyList<TaskRecord> LoadUnfinished()
    {
        lock (_lock)
        {
            return [.. _bySequence.Values.Where(r => r.State is TaskState.Pending or TaskState.Queued or TaskState.Running).Select(r => r.ToRecord())];
        }
    }

    public TaskPage List(TaskState? state, string? type, int limit, string? cursor)
    {
        var before = cursor is not null && long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var seq) ? seq : long.MaxValue;
        lock (_lock)
        {
            var items = _bySequence.Values.Reverse()
                .Where(r => r.Sequence < before && (state is null || r.State == state))
                .Select(r => r.ToRecord())
                .Where(r => type is null || r.Spec.Type == type)
                .Take(limit + 1)
                .ToList();
            return TaskPage.Of(items, limit);
        }
    }

    public bool StoredBlob(IReadOnlyCollection<string> owners, string sha256)
    {
        lock (_lock)
        {
            return _bySequence.Values.Any(r => r.State == TaskState.Completed && r.Result is not null
                && (JsonNode.Parse(r.Result) as JsonObject)?["sha256"] is JsonValue value && value.TryGetValue<string>(out var stored) && stored == sha256
                && TaskParser.FromStored(r.Body) is { Type: "store" } spec && owners.Contains(spec.Owner));
        }
    }

    public long StoredBytes()
    {
        lock (_lock)
        {
            return _bySequence.Values.Where(r => !r.Expired).Sum(r => Encoding.UTF8.GetByteCount(r.Body) + (r.Result is null ? 0L : Encoding.UTF8.GetByteCount(r.Result)));
        }
    }

    public TaskCounts Counts()
    {
        lock (_lock)
        {
            long Of(params TaskState[] states) => _bySequence.Values.Count(r => states.Contains(r.State));
            return new TaskCounts(Of(TaskState.Queued, TaskState.Pending), Of(TaskState.Running), Of(TaskState.Completed), Of(TaskState.Failed), Of(TaskState.Cancelled), Of(TaskState.TimedOut));
        }
    }

    /// <summary>Nothing to wait for: every write completed when it was made.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Task Update(string taskId, Action<Row> change)
    {
        lock (_lock)
        {
            if (_byId.TryGetValue(taskId, out var row))
            {
                change(row);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>One task as stored; mutated under the store's lock only.</summary>
    private sealed class Row(long sequence, string body, string contentHash, DateTimeOffset submittedAt)
    {
        public long Sequence { get; } = sequence;

        public string Body { get; set; } = body;

        public TaskState State { get; set; }

        public int Attempts { get; set; }

        public double Progress { get; set; }

        public DateTimeOffset? StartedAt { get; set; }

        public DateTimeOffset? FinishedAt { get; set; }

        public DateTimeOffset? ExpiresAt { get; set; }

        public string? Error { get; set; }

        public string? Result { get; set; }

        public string? Digest { get; set; }

        public bool Expired { get; set; }

        public TaskRecord ToRecord() => new()
        {
            Sequence = Sequence,
            Spec = TaskParser.FromStored(Body),
            ContentHash = contentHash,
            State = State,
            Attempts = Attempts,
            Progress = Progress,
            SubmittedAt = submittedAt,
            StartedAt = StartedAt,
            FinishedAt = FinishedAt,
            ExpiresAt = ExpiresAt,
            Error = Error,
            Result = Result,
            Digest = Digest,
        };
    }
}
