namespace Tenzro.Node.Core.Storage;

/// <summary>
/// The database file is damaged (a page fails SQLite's checks), is not an SQLite database, or belongs to
/// another program. The node refuses to start on it, never replaces it, and exits with <see cref="ExitCode"/>,
/// which the systemd unit lists in <c>RestartPreventExitStatus</c> so it is not restarted in a loop.
/// </summary>
public sealed class DatabaseDamagedException : Exception
{
    /// <summary>sysexits' EX_DATAERR: the input data was incorrect. Restarting does not help.</summary>
    public const int ExitCode = 65;

    public DatabaseDamagedException(string path, string problem, Exception? inner = null)
        : base(Advice(path, problem), inner)
    {
        Path = path;
        Problem = problem;
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <summary>What is wrong with it, as SQLite or the check reported it.</summary>
    public string Problem { get; }

    private static string Advice(string path, string problem) =>
        $"The database {path} cannot be used: {problem}. The node has not changed it and will not start on it (exit {ExitCode}). " +
        $"Either restore it from a backup: stop the node, copy the backup over {path} and delete {path}-wal and {path}-shm; " +
        $"or move it aside to start with an empty store (its queued tasks and kept results are then lost): " +
        $"mv {path} {path}.damaged, and move {path}-wal and {path}-shm with it if they exist.";
}
