using System.Security.Cryptography;

namespace Tenzro.Node.Core.Storage;

/// <summary>
/// Content-addressed files under <c>{DATA_DIR}/blobs/ab/abcdef…</c>, named by the lowercase hex SHA-256
/// of their bytes. A blob is written to a temporary file, flushed to disk and renamed, so a reader never
/// sees a partial blob and a stored blob survives a crash.
/// </summary>
/// <remarks>Thread-safe: concurrent puts of the same content race on an atomic rename of identical bytes.</remarks>
public sealed class BlobStore
{
    private readonly string _root;
    private readonly Lock _renameLock = new();
    private long _totalBytes;

    public BlobStore(string dataDirectory)
    {
        _root = Path.Combine(dataDirectory, "blobs");
        Directory.CreateDirectory(_root);
        foreach (var file in Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories))
        {
            if (file.EndsWith(".tmp", StringComparison.Ordinal))
            {
                // Left by a crash between write and rename: never acknowledged, so safe to drop.
                File.Delete(file);
                continue;
            }

            _totalBytes += new FileInfo(file).Length;
        }
    }

    /// <summary>Total bytes stored, for the storage quota; counted at start and kept up to date by puts and deletes.</summary>
    public long TotalBytes() => Interlocked.Read(ref _totalBytes);

    /// <summary>Stores <paramref name="content"/> durably and returns its hash.</summary>
    public async Task<string> PutAsync(ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(content.Span));
        var path = PathOf(hash);
        if (File.Exists(path))
        {
            return hash;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        await using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true))
        {
            await stream.WriteAsync(content, cancellationToken);
            stream.Flush(flushToDisk: true);
        }

        lock (_renameLock)
        {
            if (File.Exists(path))
            {
                // Another put of the same content won the race; its bytes are identical.
                File.Delete(temporary);
                return hash;
            }

            File.Move(temporary, path);
            Interlocked.Add(ref _totalBytes, content.Length);
        }

        return hash;
    }

    public bool Exists(string sha256) => IsHash(sha256) && File.Exists(PathOf(sha256));

    /// <summary>Opens a blob for reading; null when absent.</summary>
    public FileStream? Open(string sha256) =>
        Exists(sha256) ? new FileStream(PathOf(sha256), FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true) : null;

    public async Task<byte[]?> ReadAsync(string sha256, CancellationToken cancellationToken = default) =>
        Exists(sha256) ? await File.ReadAllBytesAsync(PathOf(sha256), cancellationToken) : null;

    public long? SizeOf(string sha256) => Exists(sha256) ? new FileInfo(PathOf(sha256)).Length : null;

    public bool Delete(string sha256)
    {
        if (!Exists(sha256))
        {
            return false;
        }

        var path = PathOf(sha256);
        var size = new FileInfo(path).Length;
        File.Delete(path);
        Interlocked.Add(ref _totalBytes, -size);
        return true;
    }

    /// <summary>The file path of a blob (which may not exist).</summary>
    public string PathOf(string sha256) => Path.Combine(_root, sha256[..2], sha256);

    /// <summary>True for 64 lowercase hex characters.</summary>
    public static bool IsHash(string? text) =>
        text is { Length: 64 } && text.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');
}
