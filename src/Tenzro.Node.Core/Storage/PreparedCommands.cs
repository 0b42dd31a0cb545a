using System.Data;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace Tenzro.Node.Core.Storage;

/// <summary>
/// Statements kept compiled on their connection for the writes every task makes. A command made for each write compiles
/// its SQL at its one execution; a kept one compiles it once and then only binds its parameters, which takes a quarter
/// off a task's two writes (docs/BENCHMARKS.md, "A short task, step by step").
/// </summary>
/// <remarks>
/// A connection is used by one thread at a time, so its commands are too. The commands belong to their connection:
/// callers never dispose them, and they are forgotten when it closes (a reopened connection compiles them again). The
/// SQL must be a constant: each distinct text is kept for the connection's life.
/// </remarks>
internal static class PreparedCommands
{
    /// <summary>A value bound larger than this is not kept bound until the statement's next use (<see cref="Release"/>).</summary>
    public const int KeptValueChars = 64 * 1024;

    private static readonly ConditionalWeakTable<SqliteConnection, Dictionary<string, SqliteCommand>> Kept = new();

    /// <summary>
    /// The command for <paramref name="sql"/> on <paramref name="connection"/>, compiled at its first execution and
    /// kept, with no parameters and in the connection's current transaction. Not to be disposed.
    /// </summary>
    public static SqliteCommand Prepared(this SqliteConnection connection, string sql)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var commands = Kept.GetValue(connection, Forgotten);
        if (!commands.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            commands[sql] = command;
        }
        else
        {
            // A command must run in its connection's transaction, which SqliteConnection hands only to the commands it creates.
            using var current = connection.CreateCommand();
            command.Transaction = current.Transaction;
        }

        command.Parameters.Clear();
        return command;
    }

    /// <summary>
    /// Drops <paramref name="command"/> (one <see cref="Prepared"/> gave) when it ran with a value of more than
    /// <see cref="KeptValueChars"/> characters: a kept statement holds its last values (and SQLite its own copy of them)
    /// until its next use, which for a large task body or result is memory nobody counts. The next use compiles it again.
    /// </summary>
    public static void Release(this SqliteConnection connection, SqliteCommand command, long largestValueChars)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(command);
        if (largestValueChars > KeptValueChars && Kept.TryGetValue(connection, out var commands) && commands.Remove(command.CommandText, out var kept))
        {
            kept.Dispose();
        }
    }

    private static Dictionary<string, SqliteCommand> Forgotten(SqliteConnection connection)
    {
        // Closing disposes the connection's commands; a reopened connection must not run them again.
        connection.StateChange += (sender, change) =>
        {
            if (change.CurrentState == ConnectionState.Closed && sender is SqliteConnection closed)
            {
                Kept.Remove(closed);
            }
        };
        return new Dictionary<string, SqliteCommand>(StringComparer.Ordinal);
    }
}
