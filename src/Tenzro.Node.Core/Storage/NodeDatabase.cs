using Microsoft.Data.Sqlite;

namespace Tenzro.Node.Core.Storage;

/// <summary>
/// The node's SQLite database (<c>{DATA_DIR}/node.db</c>): WAL journal, <c>synchronous=FULL</c> so an
/// acknowledged write survives power loss, a busy timeout, and schema migrations recorded in
/// <c>schema_version</c>.
/// </summary>
/// <remarks>
/// Thread-safe: each caller opens its own pooled connection with <see cref="OpenConnection"/>.
/// </remarks>
public sealed class NodeDatabase : IAsyncDisposable
{
    private readonly string _connectionString;
    private const int ProbePageBytes = 4096;
    private readonly Lazy<DatabaseWriter> _writer;

    // The page cache and memory map (SqliteTuning), applied to every write connection and once to each pooled read
    // handle: SQLite keeps them on the handle, so a read pays for nothing after the handle's first use.
    private volatile string _memoryPragmas = string.Empty;
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, object> _tunedReadHandles = new();

    public NodeDatabase(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        _writer = new Lazy<DatabaseWriter>(() => new DatabaseWriter(this));
    }

    public string Path { get; }

    /// <summary>The single writer every component's durable writes go through (started on first use).</summary>
    public DatabaseWriter Writer => _writer.Value;

    public async ValueTask DisposeAsync()
    {
        if (_writer.IsValueCreated)
        {
            await _writer.Value.DisposeAsync();
        }
    }

    /// <summary>Opens a connection with the durability pragmas applied.</summary>
    public SqliteConnection OpenConnection()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;" + _memoryPragmas;
        command.ExecuteNonQuery();
        return connection;
    }

    /// <summary>Sets the page cache (per connection) and the memory map (shared through the OS page cache) of the connections opened from now on.</summary>
    public void SetMemory(long cacheBytes, long mmapBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cacheBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(mmapBytes);
        _memoryPragmas = string.Create(System.Globalization.CultureInfo.InvariantCulture, $" PRAGMA cache_size=-{Math.Max(cacheBytes / 1024, 1)}; PRAGMA mmap_size={mmapBytes};");
    }

    /// <summary>
    /// Opens a connection for reads only: no per-open pragmas (they matter only to writers), so the hot
    /// read paths (task status, results) pay for nothing but the query; the memory settings of
    /// <see cref="SetMemory"/> are applied once to each pooled handle.
    /// </summary>
    public SqliteConnection OpenReadConnection()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        var pragmas = _memoryPragmas;
        if (pragmas.Length > 0 && connection.Handle is { } handle
            && !(_tunedReadHandles.TryGetValue(handle, out var applied) && ReferenceEquals(applied, pragmas)))
        {
            using var command = connection.CreateCommand();
            command.CommandText = pragmas;
            command.ExecuteNonQuery();
            _tunedReadHandles.AddOrUpdate(handle, pragmas);
        }

        return connection;
    }

    /// <summary>How many automatic pre-migration copies are kept in the backup directory.</summary>
    public const int KeptMigrationBackups = 3;

    /// <summary>
    /// Switches the database to WAL and applies every migration newer than its recorded version,
    /// each in its own transaction (a new database takes them all in one). When an existing database is about
    /// to change and <paramref name="backupDirectory"/> is given, a copy is made there first with <c>VACUUM INTO</c>
    /// (<c>pre-migration-v{version}-{time}.db</c>; the newest <see cref="KeptMigrationBackups"/> are kept).
    /// </summary>
    /// <returns>The path of the copy made before migrating, or null when none was needed.</returns>
    /// <exception cref="StoreException">The database was written by a newer version of the node, cannot be opened, or cannot be copied.</exception>
    /// <exception cref="DatabaseDamagedException">The file is damaged, not a database, or another program's database.</exception>
    public string? Migrate(IReadOnlyList<Migration> migrations, string? backupDirectory = null)
    {
        string? backup = null;
        try
        {
            using var connection = OpenConnection();
            DatabaseIntegrity.RefuseForeign(connection, Path);
            Execute(connection, "PRAGMA journal_mode=WAL;");
            Execute(connection, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);");
            var current = CurrentVersion(connection);
            var latest = migrations.Count == 0 ? 0 : migrations.Max(m => m.Version);
            if (current > latest)
            {
                throw new StoreException(
                    $"The database {Path} is at schema version {current}, written by a newer tenzro-node; this one knows up to version {latest}. " +
                    "Upgrade tenzro-node, or set DATA_DIR to another directory.");
            }

            if (backupDirectory is not null && current > 0 && current < latest)
            {
                backup = BackUpBeforeMigrating(current, backupDirectory);
            }

            var pending = migrations.Where(m => m.Version > current).OrderBy(m => m.Version).ToList();
            if (current == 0 && pending.Count > 0)
            {
                // A new database takes every migration in one transaction: one commit (one fsync) instead of one per
                // migration, and a start that fails half-way leaves no half-made schema behind.
                using var transaction = connection.BeginTransaction();
                foreach (var migration in pending)
                {
                    Apply(connection, transaction, migration);
                }

                transaction.Commit();
            }
            else
            {
                foreach (var migration in pending)
                {
                    using var transaction = connection.BeginTransaction();
                    Apply(connection, transaction, migration);
                    transaction.Commit();
                }
            }
        }
        catch (SqliteException e) when (DatabaseIntegrity.IsDamage(e))
        {
            throw DatabaseIntegrity.Explain(Path, e);
        }
        catch (SqliteException e)
        {
            throw new StoreException($"The database {Path} cannot be opened or migrated: {e.Message}", e);
        }

        return backup;
    }

    private static void Apply(SqliteConnection connection, SqliteTransaction transaction, Migration migration)
    {
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = migration.Sql;
            command.ExecuteNonQuery();
        }

        using var record = connection.CreateCommand();
        record.Transaction = transaction;
        record.CommandText = "INSERT INTO schema_version(version, name, applied_at) VALUES ($v, $n, $t);";
        record.Parameters.AddWithValue("$v", migration.Version);
        record.Parameters.AddWithValue("$n", migration.Name);
        record.Parameters.AddWithValue("$t", DateTime.UtcNow.ToString("O"));
        record.ExecuteNonQuery();
    }

    private string BackUpBeforeMigrating(long version, string backupDirectory)
    {
        Directory.CreateDirectory(backupDirectory);
        var target = System.IO.Path.Combine(backupDirectory, $"pre-migration-v{version}-{DateTime.UtcNow:yyyyMMdd-HHmmss}.db");
        DataBackup.VacuumInto(Path, target);
        foreach (var old in Directory.GetFiles(backupDirectory, "pre-migration-v*.db").OrderByDescending(File.GetLastWriteTimeUtc).ThenByDescending(f => f, StringComparer.Ordinal).Skip(KeptMigrationBackups))
        {
            File.Delete(old);
        }

        return target;
    }

    /// <summary>
    /// Copies the write-ahead log into the database file and empties it, then closes pooled connections, so a
    /// cleanly stopped node leaves one self-contained file (what a backup copies, and what the start-up checks read).
    /// Call once nothing else uses the database.
    /// </summary>
    public void Checkpoint()
    {
        using (var connection = OpenConnection())
        {
            Execute(connection, "PRAGMA wal_checkpoint(TRUNCATE);");
        }

        SqliteConnection.ClearAllPools();
    }

    /// <summary>The highest applied migration, 0 for a new database.</summary>
    public static long CurrentVersion(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_version;";
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>
    /// Proves the store can take a write: commits a row written and deleted in <c>health_probe</c> (SQLite's write
    /// lock, the WAL and its fsync), then writes, flushes and deletes one page in a file beside the database, because
    /// SQLite reuses WAL space already allocated, so only a new page shows a full disk. Waits at most
    /// <paramref name="timeout"/> (whole seconds, at least one) for SQLite's write lock, so that a lock held
    /// elsewhere is reported promptly instead of after the writers' 30 s.
    /// </summary>
    public void CheckWritable(TimeSpan timeout)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds));
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder(_connectionString) { DefaultTimeout = seconds, Pooling = false }.ToString()))
        {
            connection.Open();
            Execute(connection, $"PRAGMA synchronous=FULL; PRAGMA busy_timeout={seconds * 1000};");
            using var transaction = connection.BeginTransaction();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "INSERT INTO health_probe(written_at) VALUES ($at); DELETE FROM health_probe;";
            command.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            command.ExecuteNonQuery();
            transaction.Commit();
        }

        var probe = Path + ".probe";
        try
        {
            using var file = new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.WriteThrough);
            file.Write(new byte[ProbePageBytes]);
            file.Flush(flushToDisk: true);
        }
        finally
        {
            File.Delete(probe);
        }
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}

/// <summary>One schema step. Versions are unique and only ever appended.</summary>
public sealed record Migration(long Version, string Name, string Sql);

/// <summary>The store cannot be used.</summary>
public sealed class StoreException(string message, Exception? inner = null) : Exception(message, inner);
