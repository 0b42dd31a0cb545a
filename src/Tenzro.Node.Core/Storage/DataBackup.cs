using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace Tenzro.Node.Core.Storage;

/// <summary>
/// Backs up and restores a node's data directory as one zip archive (mode 0600): a consistent copy of the
/// database made with <c>VACUUM INTO</c> (safe while the node runs), the identity key and the blobs.
/// Caches (<c>wasm-cache</c>), task scratch space, the lock and the admin token are left out: the node
/// remakes them.
/// </summary>
/// <remarks>Stateless; the caller makes sure no node uses the directory while it is restored.</remarks>
public static partial class DataBackup
{
    private const string DatabaseEntry = "node.db";
    private const string KeyEntry = "node.key";
    private const string BlobsFolder = "blobs";

    /// <summary>Writes the archive at <paramref name="archivePath"/> (which must not exist); returns what it holds.</summary>
    /// <param name="dataDirectory">The node's DATA_DIR.</param>
    /// <param name="archivePath">The archive to write.</param>
    /// <param name="progress">Told what is being written: each step, and the blob count every 100 blobs.</param>
    /// <exception cref="StoreException">The database cannot be read.</exception>
    public static IReadOnlyList<string> Create(string dataDirectory, string archivePath, Action<string>? progress = null)
    {
        var included = new List<string>();
        var snapshot = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(archivePath))!, $".{Path.GetFileName(archivePath)}.db");
        try
        {
            using var stream = new FileStream(archivePath, OwnerOnly(FileMode.CreateNew, FileAccess.Write));
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create);
            var database = Path.Combine(dataDirectory, DatabaseEntry);
            if (File.Exists(database))
            {
                progress?.Invoke("copying the database");
                VacuumInto(database, snapshot);
                zip.CreateEntryFromFile(snapshot, DatabaseEntry);
                included.Add(DatabaseEntry);
            }

            var key = Path.Combine(dataDirectory, KeyEntry);
            if (File.Exists(key))
            {
                progress?.Invoke("adding the identity key");
                zip.CreateEntryFromFile(key, KeyEntry);
                included.Add(KeyEntry);
            }

            var blobs = Path.Combine(dataDirectory, BlobsFolder);
            var blobCount = 0;
            if (Directory.Exists(blobs))
            {
                progress?.Invoke("adding blobs");
                foreach (var file in Directory.EnumerateFiles(blobs, "*", SearchOption.AllDirectories))
                {
                    var relative = Path.GetRelativePath(dataDirectory, file).Replace('\\', '/');
                    if (IsBlobEntry(relative))
                    {
                        zip.CreateEntryFromFile(file, relative);
                        blobCount++;
                        if (blobCount % 100 == 0)
                        {
                            progress?.Invoke($"adding blobs: {blobCount} so far");
                        }
                    }
                }
            }

            included.Add($"{blobCount} blob(s)");
        }
        finally
        {
            File.Delete(snapshot);
        }

        return included;
    }

    /// <summary>
    /// Copies the database to <paramref name="target"/> with <c>VACUUM INTO</c>: one consistent, compacted file,
    /// made while writers go on.
    /// </summary>
    /// <exception cref="StoreException">The database cannot be read or the copy cannot be written.</exception>
    public static void VacuumInto(string database, string target)
    {
        try
        {
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "VACUUM INTO $target;";
            command.Parameters.AddWithValue("$target", target);
            command.ExecuteNonQuery();
        }
        catch (SqliteException e)
        {
            throw new StoreException($"Cannot copy the database {database} to {target}: {e.Message}", e);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    /// <summary>The bytes of the entry <paramref name="name"/>, or null when the archive has none.</summary>
    public static byte[]? ReadEntry(ZipArchive zip, string name)
    {
        ArgumentNullException.ThrowIfNull(zip);
        if (zip.GetEntry(name) is not { } entry)
        {
            return null;
        }

        using var stream = entry.Open();
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }

    /// <summary>
    /// Restores an archive made by <see cref="Create"/> into <paramref name="dataDirectory"/>. Without
    /// <paramref name="force"/> it refuses to replace a database or a different identity key that is already
    /// there; with it, what it replaces is moved to <c>replaced-&lt;time&gt;/</c> in the data directory, never deleted.
    /// </summary>
    /// <param name="archivePath">The archive to read.</param>
    /// <param name="dataDirectory">The node's DATA_DIR.</param>
    /// <param name="force">Replace a database or a different identity key that is already there.</param>
    /// <param name="progress">Told what is being restored: each step, and the count every 100 files.</param>
    /// <returns>What was restored, and the folder the replaced files went to (null when nothing was replaced).</returns>
    /// <exception cref="DataRestoreException">The archive is not a data backup, or it would replace data without <paramref name="force"/>.</exception>
    public static (IReadOnlyList<string> Restored, string? ReplacedInto) Restore(string archivePath, string dataDirectory, bool force, Action<string>? progress = null)
    {
        using var zip = OpenArchive(archivePath);
        var entries = zip.Entries.Where(e => !e.FullName.EndsWith('/')).ToList();
        var unexpected = entries.FirstOrDefault(e => e.FullName is not DatabaseEntry and not KeyEntry && !IsBlobEntry(e.FullName));
        if (unexpected is not null || entries.Count == 0)
        {
            throw new DataRestoreException($"{archivePath} is not a data backup made by 'tenzro-node backup-data' (it holds {unexpected?.FullName ?? "nothing"}).");
        }

        Directory.CreateDirectory(dataDirectory);
        var conflicts = Conflicts(zip, dataDirectory);
        if (conflicts.Count > 0 && !force)
        {
            throw new DataRestoreException(
                $"{dataDirectory} already holds {string.Join(" and ", conflicts)}. Restoring would replace it: pass --force to restore anyway " +
                "(what is replaced is moved to a replaced-<time> folder in the data directory).");
        }

        string? replacedInto = null;
        if (conflicts.Count > 0)
        {
            progress?.Invoke("moving the data it replaces aside");
            replacedInto = Path.Combine(dataDirectory, $"replaced-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
            Directory.CreateDirectory(replacedInto);
            foreach (var name in new[] { DatabaseEntry, DatabaseEntry + "-wal", DatabaseEntry + "-shm", KeyEntry })
            {
                var existing = Path.Combine(dataDirectory, name);
                if (File.Exists(existing))
                {
                    File.Move(existing, Path.Combine(replacedInto, name));
                }
            }
        }
        else
        {
            // A write-ahead log left beside no database, or beside the one being replaced, must not be replayed into the restored file.
            foreach (var name in new[] { DatabaseEntry + "-wal", DatabaseEntry + "-shm" })
            {
                File.Delete(Path.Combine(dataDirectory, name));
            }
        }

        var restored = new List<string>();
        var blobCount = 0;
        var written = 0;
        foreach (var entry in entries)
        {
            if (written++ % 100 == 0)
            {
                progress?.Invoke($"restoring {entry.FullName} ({written} of {entries.Count} files)");
            }

            var target = Path.Combine(dataDirectory, entry.FullName);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            using (var source = entry.Open())
            using (var file = new FileStream(target, OwnerOnly(FileMode.Create, FileAccess.Write)))
            {
                source.CopyTo(file);
            }

            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            if (IsBlobEntry(entry.FullName))
            {
                blobCount++;
            }
            else
            {
                restored.Add(entry.FullName);
            }
        }

        restored.Add($"{blobCount} blob(s)");
        return (restored, replacedInto);
    }

    /// <summary>Writes <paramref name="key"/> as the node's key file (mode 0600), refusing to replace a different key without <paramref name="force"/>.</summary>
    /// <returns>Where the replaced key went, or null.</returns>
    /// <exception cref="DataRestoreException">A different key is there and <paramref name="force"/> is false.</exception>
    public static string? RestoreIdentityKey(byte[] key, string dataDirectory, bool force)
    {
        Directory.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, KeyEntry);
        string? replaced = null;
        if (File.Exists(path))
        {
            if (CryptographicOperations.FixedTimeEquals(File.ReadAllBytes(path), key))
            {
                return null;
            }

            if (!force)
            {
                throw new DataRestoreException($"{path} holds another identity. Restoring would replace it: pass --force to restore anyway (the current key is kept as {KeyEntry}.replaced-<time>).");
            }

            replaced = $"{path}.replaced-{DateTime.UtcNow:yyyyMMdd-HHmmss}";
            File.Move(path, replaced);
        }

        using (var file = new FileStream(path, OwnerOnly(FileMode.CreateNew, FileAccess.Write)))
        {
            file.Write(key);
        }

        return replaced;
    }

    private static ZipArchive OpenArchive(string archivePath)
    {
        try
        {
            return ZipFile.OpenRead(archivePath);
        }
        catch (InvalidDataException)
        {
            throw new DataRestoreException($"{archivePath} is not a zip archive made by 'tenzro-node backup-data'.");
        }
    }

    private static List<string> Conflicts(ZipArchive zip, string dataDirectory)
    {
        var conflicts = new List<string>();
        if (zip.GetEntry(DatabaseEntry) is not null && File.Exists(Path.Combine(dataDirectory, DatabaseEntry)))
        {
            conflicts.Add("a database (node.db)");
        }

        var key = Path.Combine(dataDirectory, KeyEntry);
        if (ReadEntry(zip, KeyEntry) is { } archived && File.Exists(key) && !CryptographicOperations.FixedTimeEquals(archived, File.ReadAllBytes(key)))
        {
            conflicts.Add("another identity (node.key)");
        }

        return conflicts;
    }

    /// <summary><c>blobs/</c> and hex names only: nothing in an archive can write outside the blob store.</summary>
    private static bool IsBlobEntry(string name) => BlobEntry().IsMatch(name);

    private static FileStreamOptions OwnerOnly(FileMode mode, FileAccess access)
    {
        var options = new FileStreamOptions { Mode = mode, Access = access };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        return options;
    }

    [GeneratedRegex("^blobs/[0-9a-f]{2}/[0-9a-f]{64}$")]
    private static partial Regex BlobEntry();
}

/// <summary>An archive cannot be restored: it is not a backup, or restoring would replace data without --force.</summary>
public sealed class DataRestoreException(string message) : Exception(message);
