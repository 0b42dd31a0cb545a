namespace Tenzro.Node.Core.Storage;

/// <summary>
/// An exclusive lock on <c>{DATA_DIR}/node.lock</c> held for the life of the process, so two nodes
/// never share one data directory. The owner's pid is written beside it in <c>node.pid</c>.
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    private readonly FileStream _stream;
    private readonly string _pidPath;

    private DataDirectoryLock(FileStream stream, string pidPath)
    {
        _stream = stream;
        _pidPath = pidPath;
    }

    /// <exception cref="StoreException">Another process holds the lock.</exception>
    public static DataDirectoryLock Acquire(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        var lockPath = Path.Combine(dataDirectory, "node.lock");
        var pidPath = Path.Combine(dataDirectory, "node.pid");
        try
        {
            var stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            File.WriteAllText(pidPath, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return new DataDirectoryLock(stream, pidPath);
        }
        catch (IOException)
        {
            var owner = File.Exists(pidPath) ? File.ReadAllText(pidPath).Trim() : "unknown";
            throw new StoreException(
                $"Another tenzro-node (pid {owner}) is using the data directory {dataDirectory}. Stop it, or set DATA_DIR to another directory.");
        }
    }

    public void Dispose()
    {
        try
        {
            File.Delete(_pidPath);
        }
        catch (IOException)
        {
            // The pid file is advisory; the lock itself is released below.
        }

        _stream.Dispose();
    }
}
