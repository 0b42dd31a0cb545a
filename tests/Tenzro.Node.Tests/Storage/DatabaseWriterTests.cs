using Microsoft.Data.Sqlite;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Storage;

[Trait("Suite", "store")]
public sealed class DatabaseWriterTests : IDisposable
{
    private readonly string _directory = TestNode.NewDirectory();

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task WriteAsync_OneWriteOfABatchViolatesAConstraint_OnlyThatWriteFailsAndTheOthersCommit()
    {
        await using var database = new NodeDatabase(Path.Combine(_directory, "node.db"));
        database.Migrate(Migrations.All);
        using var holder = database.OpenConnection();
        Execute(holder, "CREATE TABLE items(name TEXT NOT NULL CHECK (name <> 'bad'));");

        // Another connection holds SQLite's write lock while the writes are queued, so the writer cannot commit
        // any of them yet and the bad write shares its batch with good ones.
        Execute(holder, "BEGIN IMMEDIATE;");
        var names = Enumerable.Range(0, 10).Select(i => $"before-{i}").Append("bad").Concat(Enumerable.Range(0, 10).Select(i => $"after-{i}")).ToList();
        var writes = names.Select(name => database.Writer.WriteAsync(connection => Insert(connection, name))).ToList();
        Execute(holder, "COMMIT;");
        var outcomes = await Task.WhenAll(writes.Select(async write =>
        {
            try
            {
                return await write.WaitAsync(Timeouts.Short);
            }
            catch (SqliteException e) when (e.SqliteErrorCode == 19)
            {
                return -1;
            }
        }));

        var stored = Rows(database, "SELECT name FROM items ORDER BY rowid;");

        Assert.Equal(-1, outcomes[names.IndexOf("bad")]);
        Assert.All(outcomes.Where((_, i) => names[i] != "bad"), outcome => Assert.Equal(1, outcome));
        Assert.Equal(names.Where(name => name != "bad"), stored);
    }

    [Fact]
    public async Task WriteAsync_TwoWritesOfOneUniqueKey_TheFirstCommitsTheSecondFailsAndLaterWritesCommit()
    {
        await using var database = new NodeDatabase(Path.Combine(_directory, "node.db"));
        database.Migrate(Migrations.All);
        using var holder = database.OpenConnection();
        Execute(holder, "CREATE TABLE items(name TEXT NOT NULL UNIQUE);");
        var first = database.Writer.WriteAsync(connection => Insert(connection, "same"));
        var second = database.Writer.WriteAsync(connection => Insert(connection, "same"));

        await first.WaitAsync(Timeouts.Short);
        await Assert.ThrowsAsync<SqliteException>(() => second.WaitAsync(Timeouts.Short));
        var later = await database.Writer.WriteAsync(connection => Insert(connection, "later")).WaitAsync(Timeouts.Short);

        Assert.Equal(1, later);
    }

    [Fact]
    public async Task Prepared_WritesOfOneStatementAcrossBatchesAndARolledBackBatch_EachCommitsWithItsOwnValues()
    {
        await using var database = new NodeDatabase(Path.Combine(_directory, "node.db"));
        database.Migrate(Migrations.All);
        using var holder = database.OpenConnection();
        Execute(holder, "CREATE TABLE items(name TEXT NOT NULL CHECK (name <> 'bad'), size INTEGER);");

        // A first batch on its own, then one that rolls back (the bad write) and is committed again write by write: the
        // kept statement runs in each of those transactions, and a value bound for one write never reaches another.
        Assert.Equal(1, await database.Writer.WriteAsync(connection => InsertPrepared(connection, "alone", 1)).WaitAsync(Timeouts.Short));
        Execute(holder, "BEGIN IMMEDIATE;");
        var names = new[] { "one", "bad", "two" };
        var writes = names.Select((name, i) => database.Writer.WriteAsync(connection => InsertPrepared(connection, name, i == 2 ? null : i + 10))).ToList();
        Execute(holder, "COMMIT;");
        await Assert.ThrowsAsync<SqliteException>(() => writes[1].WaitAsync(Timeouts.Short));
        Assert.Equal(1, await writes[0].WaitAsync(Timeouts.Short));
        Assert.Equal(1, await writes[2].WaitAsync(Timeouts.Short));

        var stored = Rows(database, "SELECT name || ':' || ifnull(size, 'null') FROM items ORDER BY rowid;");

        Assert.Equal(["alone:1", "one:10", "two:null"], stored);
    }

    private static List<string> Rows(NodeDatabase database, string sql)
    {
        using var reader = database.OpenReadConnection();
        using var read = reader.CreateCommand();
        read.CommandText = sql;
        var stored = new List<string>();
        using var rows = read.ExecuteReader();
        while (rows.Read())
        {
            stored.Add(rows.GetString(0));
        }

        return stored;
    }

    private static int InsertPrepared(SqliteConnection connection, string name, int? size)
    {
        var command = connection.Prepared("INSERT INTO items(name, size) VALUES ($name, $size);");
        command.Parameters.AddWithValue("$name", name);
        command.Parameters.AddWithValue("$size", size is { } value ? value : DBNull.Value);
        return command.ExecuteNonQuery();
    }

    private static int Insert(SqliteConnection connection, string name)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO items(name) VALUES ($name);";
        command.Parameters.AddWithValue("$name", name);
        return command.ExecuteNonQuery();
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
