using System.Globalization;

namespace Tenzro.Node.Core.Storage;

/// <summary>
/// How long stored blobs are kept (the <c>blobs</c> table). A blob put by a <c>store</c> task is kept until
/// its retention ends; putting the same content again extends it. Blobs that a model record refers to are
/// never swept. Blobs with no row (models uploaded with PUT /api/models) are kept until deleted.
/// </summary>
/// <remarks>
/// Thread-safe: each call uses its own connection, and putting a blob with its retention never interleaves
/// with the sweep (a blob kept again while the sweep looked at it would otherwise lose its file).
/// </remarks>
public sealed class BlobRetention(NodeDatabase database, BlobStore blobs) : IDisposable
{
    /// <summary>The most blobs one sweep batch deletes; a sweep runs batches until one comes back short.</summary>
    public const int SweepBatch = 1000;

    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Stores <paramref name="content"/> and keeps it at least until <paramref name="expiresAt"/>; returns its SHA-256.</summary>
    public async Task<string> PutAndKeepAsync(ReadOnlyMemory<byte> content, string kind, DateTimeOffset createdAt, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var hash = await blobs.PutAsync(content, cancellationToken);
            await KeepAsync(hash, content.Length, kind, createdAt, expiresAt);
            return hash;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Records, durably, that <paramref name="sha256"/> must be kept at least until <paramref name="expiresAt"/>.</summary>
    private Task KeepAsync(string sha256, long size, string kind, DateTimeOffset createdAt, DateTimeOffset expiresAt) => database.Writer.WriteAsync(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO blobs(sha256, size, kind, created_at, expires_at) VALUES ($h, $s, $k, $c, $e)
            ON CONFLICT(sha256) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at);
            """;
        command.Parameters.AddWithValue("$h", sha256);
        command.Parameters.AddWithValue("$s", size);
        command.Parameters.AddWithValue("$k", kind);
        command.Parameters.AddWithValue("$c", Format(createdAt));
        command.Parameters.AddWithValue("$e", Format(expiresAt));
        return command.ExecuteNonQuery();
    });

    /// <summary>
    /// Deletes up to <see cref="SweepBatch"/> blobs whose retention ended before <paramref name="now"/> and
    /// that no model uses; returns their hashes. A row is deleted only while it is still expired, and the file
    /// only with its row.
    /// </summary>
    public async Task<IReadOnlyList<string>> SweepAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var deleted = await database.Writer.WriteAsync<IReadOnlyList<string>>(connection =>
            {
                using var delete = connection.CreateCommand();
                delete.CommandText = $"""
                    DELETE FROM blobs WHERE sha256 IN (
                        SELECT sha256 FROM blobs WHERE expires_at IS NOT NULL AND expires_at < $now
                        AND sha256 NOT IN (SELECT sha256 FROM models) LIMIT {SweepBatch})
                    RETURNING sha256;
                    """;
                delete.Parameters.AddWithValue("$now", Format(now));
                var rows = new List<string>();
                using (var reader = delete.ExecuteReader())
                {
                    while (reader.Read())
                    {
                        rows.Add(reader.GetString(0));
                    }
                }

                return rows;
            });

            // The files go after the rows are committed, outside the writer; a file that cannot be deleted now
            // (open elsewhere) only costs space: no row points at it any more.
            foreach (var sha256 in deleted)
            {
                try
                {
                    blobs.Delete(sha256);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                }
            }

            return deleted;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();

    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
}
