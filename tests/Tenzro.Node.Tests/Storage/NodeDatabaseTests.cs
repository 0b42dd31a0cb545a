using Tenzro.Node.Core.Storage;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Storage;

[Trait("Suite", "store")]
public sealed class NodeDatabaseTests : IDisposable
{
    private readonly string _directory = TestNode.NewDirectory();

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Migrate_NewDatabase_AppliesEveryMigrationInWalMode()
    {
        var database = new NodeDatabase(Path.Combine(_directory, "node.db"));

        database.Migrate(Migrations.All);

        using var connection = database.OpenConnection();
        Assert.Equal(Migrations.All.Max(m => m.Version), NodeDatabase.CurrentVersion(connection));
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", (string)command.ExecuteScalar()!);
        command.CommandText = "PRAGMA synchronous;";
        Assert.Equal(2L, (long)command.ExecuteScalar()!);
    }

    [Fact]
    public void Migrate_Twice_IsANoOp()
    {
        var database = new NodeDatabase(Path.Combine(_directory, "node.db"));
        database.Migrate(Migrations.All);

        database.Migrate(Migrations.All);

        using var connection = database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM schema_version;";
        Assert.Equal((long)Migrations.All.Count, (long)command.ExecuteScalar()!);
    }

    [Fact]
    public void Migrate_NewDatabaseWhoseLastMigrationFails_KeepsNoHalfMadeSchema()
    {
        var database = new NodeDatabase(Path.Combine(_directory, "node.db"));
        Migration[] migrations = [.. Migrations.All.Take(2), new(99, "broken", "CREATE TABLE broken (;")];

        Assert.Throws<StoreException>(() => database.Migrate(migrations));

        using var connection = database.OpenConnection();
        Assert.Equal(0L, NodeDatabase.CurrentVersion(connection));
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE name = 'node_metadata';";
        Assert.Equal(0L, (long)command.ExecuteScalar()!);
    }

    [Fact]
    public void Migrate_ExistingDatabaseWhoseLastMigrationFails_KeepsTheMigrationsBeforeIt()
    {
        var database = new NodeDatabase(Path.Combine(_directory, "node.db"));
        database.Migrate([.. Migrations.All.Take(1)]);
        Migration[] migrations = [.. Migrations.All.Take(2), new(99, "broken", "CREATE TABLE broken (;")];

        Assert.Throws<StoreException>(() => database.Migrate(migrations));

        using var connection = database.OpenConnection();
        Assert.Equal(Migrations.All[1].Version, NodeDatabase.CurrentVersion(connection));
    }

    [Fact]
    public void Migrate_OlderDatabase_CopiesItWithVacuumIntoFirstAndKeepsTheNewestThree()
    {
        var backups = Path.Combine(_directory, "backups");
        var database = new NodeDatabase(Path.Combine(_directory, "node.db"));
        Assert.Null(database.Migrate([.. Migrations.All.Take(2)], backups));
        using (var connection = database.OpenConnection())
        using (var insert = connection.CreateCommand())
        {
            insert.CommandText = "INSERT INTO node_metadata(key, value) VALUES ('kept', 'yes');";
            insert.ExecuteNonQuery();
        }

        Directory.CreateDirectory(backups);
        foreach (var stale in new[] { "pre-migration-v0-20200101-000000.db", "pre-migration-v0-20200102-000000.db", "pre-migration-v0-20200103-000000.db" })
        {
            File.WriteAllText(Path.Combine(backups, stale), "old");
            File.SetLastWriteTimeUtc(Path.Combine(backups, stale), new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        }

        var backup = database.Migrate(Migrations.All, backups);
        var again = database.Migrate(Migrations.All, backups);

        Assert.NotNull(backup);
        Assert.Null(again);
        Assert.StartsWith("pre-migration-v2-", Path.GetFileName(backup), StringComparison.Ordinal);
        var copy = new NodeDatabase(backup);
        using (var connection = copy.OpenReadConnection())
        using (var read = connection.CreateCommand())
        {
            Assert.Equal(2, NodeDatabase.CurrentVersion(connection));
            read.CommandText = "SELECT value FROM node_metadata WHERE key = 'kept';";
            Assert.Equal("yes", read.ExecuteScalar());
        }

        Assert.Equal(NodeDatabase.KeptMigrationBackups, Directory.GetFiles(backups).Length);
        Assert.Contains(backup, Directory.GetFiles(backups));
    }

    [Fact]
    public void Migrate_DatabaseFromNewerVersion_IsRefusedWithAClearMessage()
    {
        var database = new NodeDatabase(Path.Combine(_directory, "node.db"));
        database.Migrate([.. Migrations.All, new Migration(999, "future", "CREATE TABLE future(x);")]);

        var error = Assert.Throws<StoreException>(() => database.Migrate(Migrations.All));

        Assert.Contains("schema version 999", error.Message);
        Assert.Contains("newer tenzro-node", error.Message);
    }

    [Fact]
    public void Migrate_NotADatabase_IsRefusedWithAClearMessage()
    {
        var path = Path.Combine(_directory, "node.db");
        File.WriteAllText(path, new string('x', 4096));

        var error = Assert.Throws<DatabaseDamagedException>(() => new NodeDatabase(path).Migrate(Migrations.All));

        Assert.Contains(path, error.Message);
        Assert.Contains("not an SQLite database", error.Message);
        Assert.Equal(new string('x', 4096), File.ReadAllText(path));
    }

    [Fact]
    public void Migrate_AnotherProgramsDatabase_IsRefusedAndLeftAsItWas()
    {
        var path = Path.Combine(_directory, "node.db");
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE contacts(name TEXT); INSERT INTO contacts VALUES ('ada');";
            command.ExecuteNonQuery();
        }

        var before = File.ReadAllBytes(path);

        var error = Assert.Throws<DatabaseDamagedException>(() => new NodeDatabase(path).Migrate(Migrations.All));

        Assert.Contains("another program", error.Message);
        Assert.Contains("move it aside", error.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void QuickCheck_DamagedPage_ThrowsWithRestoreAdvice()
    {
        var path = Path.Combine(_directory, "node.db");
        var database = new NodeDatabase(path);
        database.Migrate(Migrations.All);
        using (var connection = database.OpenConnection())
        {
            using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE filler(x BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) INSERT INTO filler SELECT randomblob(500) FROM n; CREATE INDEX filler_x ON filler(x); PRAGMA wal_checkpoint(TRUNCATE);";
            command.ExecuteNonQuery();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        DatabaseIntegrity.QuickCheck(path);
        DatabaseFiles.Damage(path, offset: 12 * 1024, length: 40 * 1024);

        var error = Assert.Throws<DatabaseDamagedException>(() => DatabaseIntegrity.QuickCheck(path));

        Assert.Contains("restore it from a backup", error.Message);
    }

    [Fact]
    public void Acquire_SecondLockOnSameDirectory_NamesTheOtherProcess()
    {
        using var first = DataDirectoryLock.Acquire(_directory);

        var error = Assert.Throws<StoreException>(() => DataDirectoryLock.Acquire(_directory));

        Assert.Contains($"pid {Environment.ProcessId}", error.Message);
    }

    [Fact]
    public void Acquire_AfterRelease_Succeeds()
    {
        DataDirectoryLock.Acquire(_directory).Dispose();

        using var again = DataDirectoryLock.Acquire(_directory);

        Assert.True(File.Exists(Path.Combine(_directory, "node.pid")));
    }
}
