using System.Globalization;
using Microsoft.Data.Sqlite;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Core.Tasks;

/// <summary>
/// Durable task storage on SQLite. Writes go through the database's single writer
/// (<see cref="DatabaseWriter"/>, group commit): each write completes only once the transaction that holds
/// it has committed with <c>synchronous=FULL</c>.
/// </summary>
/// <remarks>Thread-safe. Reads use their own pooled connections and may run beside the writer (WAL).</remarks>
public sealed class TaskStore : ITaskStore
{
    private readonly NodeDatabase _database;
    private readonly FinalRecordCache _finals = new();

    public TaskStore(NodeDatabase database) => _database = database;

    /// <summary>Inserts a new task; completes once it is durable. Returns false if the taskId exists.</summary>
    public Task<bool> InsertAsync(TaskRecord record) => Enqueue(connection => Insert(connection, record));

    /// <summary>The insert and the final update in one transaction: one commit for a task whose run ended before its submission was written.</summary>
    public async Task<TaskRecord?> InsertFinishedAsync(TaskRecord submitted, TaskState state, DateTimeOffset finishedAt, DateTimeOffset expiresAt, string? result, string? digest, string? error, DateTimeOffset? startedAt = null, int? attempts = null)
    {
        ArgumentNullException.ThrowIfNull(submitted);
        var (record, storedChars) = await Enqueue(connection =>
        {
            if (!Insert(connection, submitted))
            {
                return (null, 0);
            }

            var command = FinishCommand(connection, submitted.TaskId, state, finishedAt, expiresAt, result, digest, error, startedAt, attempts, returning: true);
            try
            {
                return Returned(command, submitted.Spec, state, result, digest, error);
            }
            finally
            {
                connection.Release(command, result?.Length ?? 0);
            }
        }).ConfigureAwait(false);

        if (record is not null)
        {
            _finals.Replace(submitted.TaskId, record, storedChars);
        }

        return record;
    }

    private static bool Insert(SqliteConnection connection, TaskRecord record)
    {
        var command = connection.Prepared(InsertSql);
        var body = TaskParser.ToStored(record.Spec);
        command.Parameters.AddWithValue("$id", record.TaskId);
        command.Parameters.AddWithValue("$type", record.Spec.Type);
        command.Parameters.AddWithValue("$priority", (int)record.Spec.Priority);
        command.Parameters.AddWithValue("$state", record.State.ToWire());
        command.Parameters.AddWithValue("$origin", record.Spec.Origin);
        command.Parameters.AddWithValue("$owner", record.Spec.Owner);
        command.Parameters.AddWithValue("$hash", record.ContentHash);
        command.Parameters.AddWithValue("$body", body);
        command.Parameters.AddWithValue("$attempts", record.Attempts);
        command.Parameters.AddWithValue("$submitted", Timestamps.FormatPrecise(record.SubmittedAt));
        command.Parameters.AddWithValue("$started", record.StartedAt is { } started ? Timestamps.FormatPrecise(started) : DBNull.Value);
        try
        {
            return command.ExecuteNonQuery() == 1;
        }
        finally
        {
            connection.Release(command, body.Length);
        }
    }

    private const string InsertSql = """
        INSERT INTO tasks(task_id, type, priority, state, origin, owner, content_hash, body, attempts, progress, submitted_at, started_at)
        VALUES ($id, $type, $priority, $state, $origin, $owner, $hash, $body, $attempts, 0, $submitted, $started)
        ON CONFLICT(task_id) DO NOTHING;
        """;

    /// <summary>Marks a task running and counts an attempt.</summary>
    public Task MarkRunningAsync(string taskId, DateTimeOffset startedAt, int attempts) =>
        Enqueue(connection =>
        {
            // Only a task that has not ended yet: a late running mark must never overwrite a final state.
            var command = connection.Prepared("UPDATE tasks SET state='running', started_at=$t, attempts=$a, progress=0 WHERE task_id=$id AND state IN ('pending','queued');");
            command.Parameters.AddWithValue("$t", Timestamps.FormatPrecise(startedAt));
            command.Parameters.AddWithValue("$a", attempts);
            command.Parameters.AddWithValue("$id", taskId);
            command.ExecuteNonQuery();
            return true;
        });

    /// <summary>Puts a task back in the queue (shutdown or crash recovery).</summary>
    public Task RequeueAsync(string taskId, int attempts) =>
        DroppingAsync(taskId, connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE tasks SET state='queued', started_at=NULL, attempts=$a, progress=0 WHERE task_id=$id;";
            command.Parameters.AddWithValue("$a", attempts);
            command.Parameters.AddWithValue("$id", taskId);
            command.ExecuteNonQuery();
            return true;
        });

    /// <summary>Records the final state, result and expiry of a task.</summary>
    /// <remarks>
    /// <paramref name="startedAt"/> and <paramref name="attempts"/> record the start of a task whose running
    /// mark was not written separately (it ended before the mark was due); null keeps what is stored.
    /// </remarks>
    public Task MarkFinishedAsync(string taskId, TaskState state, DateTimeOffset finishedAt, DateTimeOffset expiresAt, string? result, string? digest, string? error, DateTimeOffset? startedAt = null, int? attempts = null) =>
        DroppingAsync(taskId, connection =>
        {
            var command = FinishCommand(connection, taskId, state, finishedAt, expiresAt, result, digest, error, startedAt, attempts, returning: false);
            try
            {
                command.ExecuteNonQuery();
            }
            finally
            {
                connection.Release(command, result?.Length ?? 0);
            }

            return true;
        });

    /// <summary>
    /// The final record comes back from the UPDATE itself (<c>RETURNING</c> the columns the engine does not hold): no second
    /// statement, no read connection, and the stored task is not parsed again. It is kept for status reads
    /// (<see cref="GetForStatus"/>).
    /// </summary>
    public async Task<TaskRecord?> FinishAsync(TaskSpec spec, TaskState state, DateTimeOffset finishedAt, DateTimeOffset expiresAt, string? result, string? digest, string? error, DateTimeOffset? startedAt = null, int? attempts = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var (record, storedChars) = await Enqueue(connection =>
        {
            var command = FinishCommand(connection, spec.TaskId, state, finishedAt, expiresAt, result, digest, error, startedAt, attempts, returning: true);
            try
            {
                return Returned(command, spec, state, result, digest, error);
            }
            finally
            {
                connection.Release(command, result?.Length ?? 0);
            }
        }).ConfigureAwait(false);

        // What was just committed replaces whatever a read that raced the write may have kept.
        _finals.Replace(spec.TaskId, record, storedChars);
        return record;
    }

    /// <summary>The final record from the columns the final update returns; the reader is closed before the statement is released.</summary>
    private static (TaskRecord? Record, int StoredChars) Returned(SqliteCommand command, TaskSpec spec, TaskState state, string? result, string? digest, string? error)
    {
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return (null, 0);
        }

        return (new TaskRecord
        {
            Spec = spec,
            Sequence = reader.GetInt64(0),
            ContentHash = reader.GetString(1),
            State = state,
            Attempts = reader.GetInt32(2),
            Progress = reader.GetDouble(3),
            SubmittedAt = Parse(reader.GetString(4)),
            StartedAt = reader.IsDBNull(5) ? null : Parse(reader.GetString(5)),
            FinishedAt = Parse(reader.GetString(6)),
            ExpiresAt = Parse(reader.GetString(7)),
            Error = error,
            Result = result,
            Digest = digest,
        }, reader.GetInt32(8) + (result?.Length ?? 0));
    }

    private const string FinishSql = """
        UPDATE tasks SET state=$s, finished_at=$f, expires_at=$e, result=$r, digest=$d, error=$err,
            progress=CASE WHEN $s='completed' THEN 1 ELSE progress END,
            started_at=COALESCE(started_at, $st), attempts=COALESCE($a, attempts)
        WHERE task_id=$id
        """;

    private const string FinishReturningSql = FinishSql + " RETURNING seq, content_hash, attempts, progress, submitted_at, started_at, finished_at, expires_at, length(body);";

    /// <summary>The final update, kept prepared on the writer's connection; not to be disposed (<see cref="PreparedCommands"/>).</summary>
    private static SqliteCommand FinishCommand(SqliteConnection connection, string taskId, TaskState state, DateTimeOffset finishedAt, DateTimeOffset expiresAt, string? result, string? digest, string? error, DateTimeOffset? startedAt, int? attempts, bool returning)
    {
        var command = connection.Prepared(returning ? FinishReturningSql : FinishSql);
        command.Parameters.AddWithValue("$st", startedAt is { } st ? Timestamps.FormatPrecise(st) : DBNull.Value);
        command.Parameters.AddWithValue("$a", attempts is { } a ? a : DBNull.Value);
        command.Parameters.AddWithValue("$s", state.ToWire());
        command.Parameters.AddWithValue("$f", Timestamps.FormatPrecise(finishedAt));
        command.Parameters.AddWithValue("$e", Timestamps.FormatPrecise(expiresAt));
        command.Parameters.AddWithValue("$r", (object?)result ?? DBNull.Value);
        command.Parameters.AddWithValue("$d", (object?)digest ?? DBNull.Value);
        command.Parameters.AddWithValue("$err", (object?)error ?? DBNull.Value);
        command.Parameters.AddWithValue("$id", taskId);
        return command;
    }

    /// <summary>Stores progress; not awaited by the engine on the hot path.</summary>
    public Task SetProgressAsync(string taskId, double progress) =>
        Enqueue(connection =>
        {
            var command = connection.Prepared("UPDATE tasks SET progress=$p WHERE task_id=$id AND state='running';");
            command.Parameters.AddWithValue("$p", progress);
            command.Parameters.AddWithValue("$id", taskId);
            command.ExecuteNonQuery();
            return true;
        });

    /// <summary>
    /// Deletes up to <see cref="ITaskStore.ExpireBatch"/> tombstones of tasks whose result expired before <paramref name="cutoff"/>
    /// (the sweeper passes one more RESULT_RETENTION_PERIOD ago): after that the task is unknown (404), so the store's
    /// size follows the rate of tasks, not their total. Returns how many it deleted.
    /// </summary>
    public async Task<int> PurgeTombstonesAsync(DateTimeOffset cutoff)
    {
        var purged = await Enqueue(connection =>
        {
            using var delete = connection.CreateCommand();
            delete.CommandText = $"DELETE FROM tasks WHERE seq IN (SELECT seq FROM tasks WHERE expired=1 AND expires_at IS NOT NULL AND expires_at < $cutoff LIMIT {ITaskStore.ExpireBatch});";
            delete.Parameters.AddWithValue("$cutoff", Timestamps.FormatPrecise(cutoff));
            return delete.ExecuteNonQuery();
        }).ConfigureAwait(false);
        if (purged > 0)
        {
            _finals.Clear();
        }

        return purged;
    }

    /// <summary>
    /// Drops the results and data of up to <see cref="ITaskStore.ExpireBatch"/> tasks whose retention ended before
    /// <paramref name="now"/>, keeping a small tombstone so that the result endpoint can answer 410 instead
    /// of 404. Returns the ids expired.
    /// </summary>
    public async Task<IReadOnlyList<string>> ExpireResultsAsync(DateTimeOffset now)
    {
        var expired = await Enqueue<IReadOnlyList<string>>(connection =>
        {
            var ids = new List<string>();
            using (var select = connection.CreateCommand())
            {
                select.CommandText = $"SELECT task_id FROM tasks WHERE expired=0 AND expires_at IS NOT NULL AND expires_at < $now LIMIT {ITaskStore.ExpireBatch};";
                select.Parameters.AddWithValue("$now", Timestamps.FormatPrecise(now));
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    ids.Add(reader.GetString(0));
                }
            }

            foreach (var id in ids)
            {
                using var update = connection.CreateCommand();
                update.CommandText = "UPDATE tasks SET expired=1, result=NULL, body=json_set(body, '$.data', json('{}')) WHERE task_id=$id;";
                update.Parameters.AddWithValue("$id", id);
                update.ExecuteNonQuery();
            }

            return ids;
        }).ConfigureAwait(false);
        _finals.Drop(expired);
        return expired;
    }

    /// <remarks>Always read from the database: the caller gets a spec of its own, data and config included.</remarks>
    public TaskRecord? Get(string taskId) => Read(taskId, out _);

    /// <remarks>A finished task's record is served from memory once read or stored (<see cref="FinalRecordCache"/>).</remarks>
    public TaskRecord? GetForStatus(string taskId)
    {
        if (_finals.TryGet(taskId, out var cached))
        {
            return cached;
        }

        var readAt = _finals.Generation;
        var record = Read(taskId, out var storedChars);
        if (record is not null)
        {
            _finals.Add(record, readAt, storedChars);
        }

        return record;
    }

    private TaskRecord? Read(string taskId, out int storedChars)
    {
        storedChars = 0;
        using var connection = _database.OpenReadConnection();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM tasks WHERE task_id=$id;";
        command.Parameters.AddWithValue("$id", taskId);
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        var record = Read(reader);
        storedChars = reader.GetString(1).Length + (record.Result?.Length ?? 0);
        return record;
    }

    /// <summary>Tasks that are not final, in queue order: used to rebuild the queue at start.</summary>
    public IReadOnlyList<TaskRecord> LoadUnfinished()
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM tasks WHERE state IN ('pending','queued','running') ORDER BY seq;";
        using var reader = command.ExecuteReader();
        var list = new List<TaskRecord>();
        while (reader.Read())
        {
            list.Add(Read(reader));
        }

        return list;
    }

    /// <summary>A page of tasks, newest first, optionally filtered.</summary>
    public TaskPage List(TaskState? state, string? type, int limit, string? cursor)
    {
        using var connection = _database.OpenReadConnection();
        using var command = connection.CreateCommand();
        var where = new List<string>();
        if (state is { } s)
        {
            where.Add("state=$state");
            command.Parameters.AddWithValue("$state", s.ToWire());
        }

        if (type is not null)
        {
            where.Add("type=$type");
            command.Parameters.AddWithValue("$type", type);
        }

        if (cursor is not null && long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var before))
        {
            where.Add("seq < $before");
            command.Parameters.AddWithValue("$before", before);
        }

        command.CommandText = $"SELECT {Columns} FROM tasks {(where.Count > 0 ? "WHERE " + string.Join(" AND ", where) : "")} ORDER BY seq DESC LIMIT $limit;";
        command.Parameters.AddWithValue("$limit", limit + 1);
        using var reader = command.ExecuteReader();
        var items = new List<TaskRecord>();
        while (reader.Read())
        {
            items.Add(Read(reader));
        }

        return TaskPage.Of(items, limit);
    }

    /// <summary>Whether a completed <c>store</c> task of one of <paramref name="owners"/> stored the blob <paramref name="sha256"/>.</summary>
    public bool StoredBlob(IReadOnlyCollection<string> owners, string sha256)
    {
        using var connection = _database.OpenReadConnection();
        using var command = connection.CreateCommand();
        var names = owners.Select((_, i) => "$o" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        command.CommandText = $"SELECT 1 FROM tasks WHERE owner IN ({string.Join(",", names)}) AND type='store' AND state='completed' AND json_extract(result, '$.sha256')=$sha LIMIT 1;";
        foreach (var (owner, i) in owners.Select((o, i) => (o, i)))
        {
            command.Parameters.AddWithValue(names[i], owner);
        }

        command.Parameters.AddWithValue("$sha", sha256);
        return command.ExecuteScalar() is not null;
    }

    /// <summary>Bytes of the inputs and results the store keeps (tasks whose results have not expired).</summary>
    public long StoredBytes()
    {
        using var connection = _database.OpenReadConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE(SUM(length(CAST(body AS BLOB)) + COALESCE(length(CAST(result AS BLOB)), 0)), 0) FROM tasks WHERE expired=0;";
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    public TaskCounts Counts()
    {
        using var connection = _database.OpenReadConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT state, COUNT(*) FROM tasks GROUP BY state;";
        using var reader = command.ExecuteReader();
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        while (reader.Read())
        {
            counts[reader.GetString(0)] = reader.GetInt64(1);
        }

        long Of(string name) => counts.GetValueOrDefault(name);
        return new TaskCounts(Of("queued") + Of("pending"), Of("running"), Of("completed"), Of("failed"), Of("cancelled"), Of("timed_out"));
    }

    /// <summary>Waits for the writes queued so far to commit (the writer itself belongs to the database).</summary>
    public async ValueTask DisposeAsync() => await _database.Writer.FlushAsync().ConfigureAwait(false);

    private const string Columns = "seq, body, content_hash, state, attempts, progress, submitted_at, started_at, finished_at, expires_at, error, result, digest";

    private static TaskRecord Read(SqliteDataReader reader)
    {
        _ = TaskStates.TryParse(reader.GetString(3), out var state);
        return new TaskRecord
        {
            Sequence = reader.GetInt64(0),
            Spec = TaskParser.FromStored(reader.GetString(1)),
            ContentHash = reader.GetString(2),
            State = state,
            Attempts = reader.GetInt32(4),
            Progress = reader.GetDouble(5),
            SubmittedAt = Parse(reader.GetString(6)),
            StartedAt = reader.IsDBNull(7) ? null : Parse(reader.GetString(7)),
            FinishedAt = reader.IsDBNull(8) ? null : Parse(reader.GetString(8)),
            ExpiresAt = reader.IsDBNull(9) ? null : Parse(reader.GetString(9)),
            Error = reader.IsDBNull(10) ? null : reader.GetString(10),
            Result = reader.IsDBNull(11) ? null : reader.GetString(11),
            Digest = reader.IsDBNull(12) ? null : reader.GetString(12),
        };
    }

    private static DateTimeOffset Parse(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private Task<T> Enqueue<T>(Func<SqliteConnection, T> work) => _database.Writer.WriteAsync(work);

    /// <summary>
    /// A write that may change a finished task's row: once it has committed (or failed), the task's kept record is dropped,
    /// and a status read that began before cannot put back what it read. Until then the kept record is still the truth.
    /// </summary>
    private async Task DroppingAsync<T>(string taskId, Func<SqliteConnection, T> work)
    {
        try
        {
            await Enqueue(work).ConfigureAwait(false);
        }
        finally
        {
            _finals.Drop([taskId]);
        }
    }
}
