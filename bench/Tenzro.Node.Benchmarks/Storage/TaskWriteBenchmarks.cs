using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;
using Tenzro.Node.Core.Storage;

namespace Tenzro.Node.Benchmarks.Storage;

/// <summary>
/// The two writes every task makes, on the node's schema, each in a transaction of its own (its insert, and its final
/// update returning the stored columns, as <c>TaskStore.FinishAsync</c>): a command made for each
/// write (the baseline, compiled at every execution) against the one kept by <see cref="PreparedCommands"/>. The
/// database runs with <c>synchronous=OFF</c>, so that the figures are the statements' cost and not the disk's.
/// </summary>
[MemoryDiagnoser]
public class TaskWriteBenchmarks : IDisposable
{
    private const string Insert = """
        INSERT INTO tasks(task_id, type, priority, state, origin, owner, content_hash, body, attempts, progress, submitted_at, started_at)
        VALUES ($id, $type, $priority, $state, $origin, $owner, $hash, $body, $attempts, 0, $submitted, $started)
        ON CONFLICT(task_id) DO NOTHING;
        """;

    private const string Finish = """
        UPDATE tasks SET state=$s, finished_at=$f, expires_at=$e, result=$r, digest=$d, error=$err,
            progress=CASE WHEN $s='completed' THEN 1 ELSE progress END,
            started_at=COALESCE(started_at, $st), attempts=COALESCE($a, attempts)
        WHERE task_id=$id
        RETURNING seq, content_hash, attempts, progress, submitted_at, started_at, finished_at, expires_at, length(body);
        """;

    private readonly string _body = "{\"type\":\"compute\",\"data\":{\"module\":\"" + new string('a', 300) + "\"}}";
    private string _directory = null!;
    private NodeDatabase _database = null!;
    private SqliteConnection _connection = null!;
    private long _next;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Directory.CreateTempSubdirectory("tenzro-bench-writes-").FullName;
        _database = new NodeDatabase(Path.Combine(_directory, "node.db"));
        _database.Migrate(Migrations.All);
        _connection = _database.OpenConnection();
        using var pragma = _connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous=OFF;";
        pragma.ExecuteNonQuery();
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _connection.Dispose();
        _database.DisposeAsync().AsTask().GetAwaiter().GetResult();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
        GC.SuppressFinalize(this);
    }

    [Benchmark(Baseline = true)]
    public long NewCommand()
    {
        var id = $"task-{++_next}";
        using (var transaction = _connection.BeginTransaction())
        {
            using var insert = _connection.CreateCommand();
            insert.CommandText = Insert;
            Bind(insert, id);
            insert.ExecuteNonQuery();
            transaction.Commit();
        }

        using (var transaction = _connection.BeginTransaction())
        {
            using var finish = _connection.CreateCommand();
            finish.CommandText = Finish;
            var seq = Finished(finish, id);
            transaction.Commit();
            return seq;
        }
    }

    [Benchmark]
    public long Prepared()
    {
        var id = $"task-{++_next}";
        using (var transaction = _connection.BeginTransaction())
        {
            var insert = _connection.Prepared(Insert);
            Bind(insert, id);
            insert.ExecuteNonQuery();
            transaction.Commit();
        }

        using (var transaction = _connection.BeginTransaction())
        {
            var seq = Finished(_connection.Prepared(Finish), id);
            transaction.Commit();
            return seq;
        }
    }

    private static long Finished(SqliteCommand command, string id)
    {
        command.Parameters.AddWithValue("$st", DBNull.Value);
        command.Parameters.AddWithValue("$a", DBNull.Value);
        command.Parameters.AddWithValue("$s", "completed");
        command.Parameters.AddWithValue("$f", "2026-12-06T05:00:00.0010000Z");
        command.Parameters.AddWithValue("$e", "2026-12-07T05:00:00.0010000Z");
        command.Parameters.AddWithValue("$r", "{\"returns\":[5]}");
        command.Parameters.AddWithValue("$d", "digest");
        command.Parameters.AddWithValue("$err", DBNull.Value);
        command.Parameters.AddWithValue("$id", id);
        using var reader = command.ExecuteReader();
        return reader.Read() ? reader.GetInt64(0) : -1;
    }

    private void Bind(SqliteCommand command, string id)
    {
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$type", "compute");
        command.Parameters.AddWithValue("$priority", 1);
        command.Parameters.AddWithValue("$state", "running");
        command.Parameters.AddWithValue("$origin", "api");
        command.Parameters.AddWithValue("$owner", "anonymous-loopback");
        command.Parameters.AddWithValue("$hash", id);
        command.Parameters.AddWithValue("$body", _body);
        command.Parameters.AddWithValue("$attempts", 1);
        command.Parameters.AddWithValue("$submitted", "2026-12-06T05:00:00.0000000Z");
        command.Parameters.AddWithValue("$started", "2026-12-06T05:00:00.0000000Z");
    }
}
