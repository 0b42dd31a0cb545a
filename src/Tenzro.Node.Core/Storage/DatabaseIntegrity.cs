using Microsoft.Data.Sqlite;

namespace Tenzro.Node.Core.Storage;

/// <summary>
/// Recognises a damaged or foreign database: SQLite's own error codes for it, and <c>PRAGMA quick_check</c>,
/// which reads every page (seconds on a large file), so it runs at start only after an unclean stop.
/// </summary>
public static class DatabaseIntegrity
{
    private const int SqliteCorrupt = 11;
    private const int SqliteNotADatabase = 26;

    /// <summary>
    /// Whether <paramref name="exception"/>, or one it wraps, is SQLite reporting a damaged file or one that is
    /// not a database. Such an error does not go away by retrying.
    /// </summary>
    public static bool IsDamage(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is DatabaseDamagedException || e is SqliteException { SqliteErrorCode: SqliteCorrupt or SqliteNotADatabase })
            {
                return true;
            }

            if (e is AggregateException aggregate && aggregate.InnerExceptions.Any(IsDamage))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The <see cref="DatabaseDamagedException"/> that <paramref name="exception"/> stands for.</summary>
    public static DatabaseDamagedException Explain(string path, Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case DatabaseDamagedException damaged:
                    return damaged;
                case SqliteException { SqliteErrorCode: SqliteNotADatabase } sqlite:
                    return new DatabaseDamagedException(path, $"it is not an SQLite database, or its header is damaged ({sqlite.Message})", sqlite);
                case SqliteException { SqliteErrorCode: SqliteCorrupt } sqlite:
                    return new DatabaseDamagedException(path, $"SQLite reports it damaged ({sqlite.Message})", sqlite);
            }
        }

        return new DatabaseDamagedException(path, exception.Message, exception);
    }

    /// <summary>
    /// Runs <c>PRAGMA quick_check</c> on <paramref name="path"/>, if the file exists, without changing it.
    /// </summary>
    /// <exception cref="DatabaseDamagedException">The check found a problem, or SQLite could not read the file as a database.</exception>
    public static void QuickCheck(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        var problems = new List<string>();
        try
        {
            // Read-only: a read-write connection checkpoints the WAL into the file when it closes, which would
            // change a damaged file the node then refuses.
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA quick_check(20);";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                problems.Add(reader.GetString(0));
            }
        }
        catch (SqliteException e) when (IsDamage(e))
        {
            throw Explain(path, e);
        }

        if (problems is not ["ok"])
        {
            throw new DatabaseDamagedException(path, $"PRAGMA quick_check found: {string.Join("; ", problems)}");
        }
    }

    /// <summary>
    /// Refuses a valid SQLite file that another program wrote: it has tables, and no <c>schema_version</c>.
    /// </summary>
    /// <exception cref="DatabaseDamagedException">The file is foreign.</exception>
    public static void RefuseForeign(SqliteConnection connection, string path)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'), (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version');";
        using var reader = command.ExecuteReader();
        reader.Read();
        if (reader.GetInt64(0) > 0 && reader.GetInt64(1) == 0)
        {
            throw new DatabaseDamagedException(path, "it is an SQLite database of another program (it has tables but no schema_version), not a tenzro-node store");
        }
    }
}
