namespace Tenzro.Node.Core.Storage;

/// <summary>
/// <c>{DATA_DIR}/node.running</c>: created when a node starts on the data directory and deleted only when it
/// stops cleanly, so finding it at start means the last run was killed, crashed, lost power, or failed to start.
/// </summary>
/// <remarks>Not thread-safe; owned by the start-up code, which holds the <see cref="DataDirectoryLock"/>.</remarks>
public sealed class RunningMarker
{
    private readonly string _path;

    private RunningMarker(string path, bool previousRunUnclean)
    {
        _path = path;
        PreviousRunUnclean = previousRunUnclean;
    }

    /// <summary>Whether the marker was already there: the last run did not stop cleanly.</summary>
    public bool PreviousRunUnclean { get; }

    /// <summary>Notes that a run begins. Call while holding the data directory's lock.</summary>
    public static RunningMarker Begin(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, "node.running");
        var unclean = File.Exists(path);
        if (!unclean)
        {
            // Flushed to the disk: after a power cut the marker must be there for the check to run.
            using var file = new FileStream(path, FileMode.Create, FileAccess.Write);
            file.Write(System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            file.Flush(flushToDisk: true);
        }

        return new RunningMarker(path, unclean);
    }

    /// <summary>Notes a clean stop: the next start skips the integrity check.</summary>
    public void End() => File.Delete(_path);
}
