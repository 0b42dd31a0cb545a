using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace Tenzro.Node.Core.Storage;

/// <summary>
/// Statements kept compiled on their connection for the writes every task makes. A new <see cref="SqliteCommand"/>
/// compiles its SQL again at each execution; a kept one only binds its parameters, which takes a quarter off a task's
/// two writes (docs/BENCHMARKS.md, "A short task, step by step").
/// </summary>
/// <remarks>
/// A connection is used by one thread at a time, so its commands are too. The commands belong to their connection,
/// which finalizes them when it closes: callers never dispose them.
/// </remarks>
public static class PreparedCommands
{
    private static readonly ConditionalWeakTable<SqliteConnection, Dictionary<string, SqliteCommand>> Kept = new();

    /// <summary>
    /// The command for <paramref name="sql"/> on <paramref name="connection"/>, compiled at its first execution and
    /// kept, with no parameters and in the connection's current transaction. Not to be disposed.
    /// </summary>
    public static SqliteCommand Prepared(this SqliteConnection connection, string sql)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var commands = Kept.GetOrCreateValue(connection);
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
}
