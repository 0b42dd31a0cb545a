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

        using var reader = database.OpenReadConnection();
        using var read = reader.CreateCommand();
        read.CommandText = "SELECT name FROM items ORDER BY rowid;";
        var stored = new List<string>();
        using (var rows = read.ExecuteReader())
        {
            while (rows.Read())
            {
                stored.Add(rows.GetString(0));
            }
        }

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
