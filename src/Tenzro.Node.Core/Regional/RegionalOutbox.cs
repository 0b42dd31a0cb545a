using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Core.Regional;

/// <summary>One message waiting for, or already written to, the regional link.</summary>
public sealed record OutboxEntry(
    long Sequence,
    string Type,
    string? TaskId,
    JsonObject Message,
    DateTimeOffset CreatedAt,
    DateTimeOffset? SentAt,
    string? Error,
    DateTimeOffset? ErrorAt);

/// <summary>A task that came from the regional node, with what the outbox holds for it.</summary>
public sealed record RegionalTaskReport(string TaskId, string State, bool Accepted, bool Reported);

/// <summary>
/// The durable outbox of the regional link (table <c>outbox</c>): every message that must reach the regional
/// node (task_accepted, task_rejected, the final task_progress, task_completed, task_failed) is written here
/// first, then sent in order by the link. A row counts as sent once it was written to an open, joined link;
/// an <c>error</c> the regional node answers is recorded on the row it concerns.
/// </summary>
/// <remarks>
/// Thread-safe: each call uses its own pooled connection, and <see cref="Append"/> returns only after the row
/// is committed with <c>synchronous=FULL</c>. <see cref="Appended"/> is raised after each commit.
/// </remarks>
public sealed class RegionalOutbox(NodeDatabase database, TimeProvider time)
{
    /// <summary>Raised after a row was committed; handlers must be quick and not throw.</summary>
    public event Action? Appended;

    /// <summary>Writes a message durably; returns the stored entry.</summary>
    public OutboxEntry Append(string type, string? taskId, JsonObject message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var now = time.GetUtcNow();
        long sequence;
        using (var connection = database.OpenConnection())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "INSERT INTO outbox(type, task_id, body, created_at) VALUES ($type, $task, $body, $at) RETURNING seq;";
            command.Parameters.AddWithValue("$type", type);
            command.Parameters.AddWithValue("$task", (object?)taskId ?? DBNull.Value);
            command.Parameters.AddWithValue("$body", message.ToJsonString());
            command.Parameters.AddWithValue("$at", Format(now));
            sequence = (long)command.ExecuteScalar()!;
        }

        Appended?.Invoke();
        return new OutboxEntry(sequence, type, taskId, message, now, null, null, null);
    }

    /// <summary>Unsent rows in the order they were written.</summary>
    public IReadOnlyList<OutboxEntry> Pending(int limit)
    {
        using var connection = database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT $limit;";
        command.Parameters.AddWithValue("$limit", limit);
        return ReadAll(command);
    }

    /// <summary>How many rows wait to be sent.</summary>
    public long PendingCount()
    {
        using var connection = database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL;";
        return (long)command.ExecuteScalar()!;
    }

    public void MarkSent(long sequence)
    {
        using var connection = database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "UPDATE outbox SET sent_at=$at WHERE seq=$seq;";
        command.Parameters.AddWithValue("$at", Format(time.GetUtcNow()));
        command.Parameters.AddWithValue("$seq", sequence);
        command.ExecuteNonQuery();
    }

    /// <summary>Marks every row sent at or after <paramref name="since"/> unsent again, so that it is sent once more; returns how many.</summary>
    public int Resend(DateTimeOffset since)
    {
        using var connection = database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "UPDATE outbox SET sent_at=NULL WHERE sent_at IS NOT NULL AND sent_at >= $since;";
        command.Parameters.AddWithValue("$since", Format(since));
        return command.ExecuteNonQuery();
    }

    /// <summary>
    /// After an unclean stop: marks unsent again every row sent within <paramref name="window"/> before the last row
    /// sent, except rows an earlier unclean stop re-sent already (each row is re-sent this way once: the highest
    /// sequence re-sent is kept in <c>node_metadata</c>), so that a node in a crash loop does not repeat its last
    /// reports on every start. Returns how many.
    /// </summary>
    public int ResendLastSent(TimeSpan window)
    {
        using var connection = database.OpenConnection();
        using var transaction = connection.BeginTransaction();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT MAX(sent_at) FROM outbox;";
        if (command.ExecuteScalar() is not string last)
        {
            return 0;
        }

        command.CommandText = $"SELECT value FROM node_metadata WHERE key='{ResentThroughKey}';";
        var resentThrough = command.ExecuteScalar() is string text ? long.Parse(text, CultureInfo.InvariantCulture) : 0;
        command.CommandText = "UPDATE outbox SET sent_at=NULL WHERE sent_at IS NOT NULL AND sent_at >= $since AND seq > $through RETURNING seq;";
        command.Parameters.AddWithValue("$since", Format(Parse(last) - window));
        command.Parameters.AddWithValue("$through", resentThrough);
        var sequences = new List<long>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                sequences.Add(reader.GetInt64(0));
            }
        }

        if (sequences.Count > 0)
        {
            command.Parameters.Clear();
            command.CommandText = $"INSERT INTO node_metadata(key, value) VALUES ('{ResentThroughKey}', $value) ON CONFLICT(key) DO UPDATE SET value = excluded.value;";
            command.Parameters.AddWithValue("$value", sequences.Max().ToString(CultureInfo.InvariantCulture));
            command.ExecuteNonQuery();
        }

        transaction.Commit();
        return sequences.Count;
    }

    /// <summary>Records the regional node's <c>error</c> answer on the row it concerns.</summary>
    public void RecordError(long sequence, string error)
    {
        using var connection = database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "UPDATE outbox SET error=$error, error_at=$at WHERE seq=$seq;";
        command.Parameters.AddWithValue("$error", error);
        command.Parameters.AddWithValue("$at", Format(time.GetUtcNow()));
        command.Parameters.AddWithValue("$seq", sequence);
        command.ExecuteNonQuery();
    }

    /// <summary>Every row written for one task, oldest first.</summary>
    public IReadOnlyList<OutboxEntry> ForTask(string taskId)
    {
        using var connection = database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM outbox WHERE task_id=$task ORDER BY seq;";
        command.Parameters.AddWithValue("$task", taskId);
        return ReadAll(command);
    }

    /// <summary>True when a task_completed or task_failed for the task was written (sent or not).</summary>
    public bool HasFinal(string taskId)
    {
        using var connection = database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT EXISTS(SELECT 1 FROM outbox WHERE task_id=$task AND type IN ($completed, $failed));";
        command.Parameters.AddWithValue("$task", taskId);
        command.Parameters.AddWithValue("$completed", RegionalMessageTypes.TaskCompleted);
        command.Parameters.AddWithValue("$failed", RegionalMessageTypes.TaskFailed);
        return (long)command.ExecuteScalar()! == 1;
    }

    /// <summary>
    /// Tasks from the regional node whose results are still kept, with whether their acceptance and final
    /// report were written: a crash between a task's admission (or end) and the outbox write leaves a gap
    /// that start-up fills.
    /// </summary>
    public IReadOnlyList<RegionalTaskReport> RegionalTasks()
    {
        using var connection = database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT t.task_id, t.state,
                EXISTS(SELECT 1 FROM outbox o WHERE o.task_id=t.task_id AND o.type=$accepted),
                EXISTS(SELECT 1 FROM outbox o WHERE o.task_id=t.task_id AND o.type IN ($completed, $failed))
            FROM tasks t WHERE t.origin='regional' AND t.expired=0 ORDER BY t.seq;
            """;
        command.Parameters.AddWithValue("$accepted", RegionalMessageTypes.TaskAccepted);
        command.Parameters.AddWithValue("$completed", RegionalMessageTypes.TaskCompleted);
        command.Parameters.AddWithValue("$failed", RegionalMessageTypes.TaskFailed);
        using var reader = command.ExecuteReader();
        var list = new List<RegionalTaskReport>();
        while (reader.Read())
        {
            list.Add(new RegionalTaskReport(reader.GetString(0), reader.GetString(1), reader.GetInt64(2) == 1, reader.GetInt64(3) == 1));
        }

        return list;
    }

    /// <summary>Deletes sent rows of tasks whose results have expired, and sent rows without a task older than <paramref name="olderThan"/>.</summary>
    public int PruneSent(DateTimeOffset olderThan)
    {
        using var connection = database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            DELETE FROM outbox WHERE sent_at IS NOT NULL AND (
                (task_id IS NOT NULL AND task_id IN (SELECT task_id FROM tasks WHERE expired=1))
                OR (task_id IS NULL AND sent_at < $before));
            """;
        command.Parameters.AddWithValue("$before", Format(olderThan));
        return command.ExecuteNonQuery();
    }

    private const string ResentThroughKey = "outbox_resent_through";

    private const string Columns = "seq, type, task_id, body, created_at, sent_at, error, error_at";

    private static List<OutboxEntry> ReadAll(SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        var list = new List<OutboxEntry>();
        while (reader.Read())
        {
            list.Add(new OutboxEntry(
                reader.GetInt64(0),
                reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                JsonNode.Parse(reader.GetString(3))!.AsObject(),
                Parse(reader.GetString(4)),
                reader.IsDBNull(5) ? null : Parse(reader.GetString(5)),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : Parse(reader.GetString(7))));
        }

        return list;
    }

    private static string Format(DateTimeOffset time) => Json.Timestamps.FormatPrecise(time);

    private static DateTimeOffset Parse(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
