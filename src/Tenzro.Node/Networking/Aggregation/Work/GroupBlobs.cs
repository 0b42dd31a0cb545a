using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Tenzro.Node.Networking.Aggregation.Work;

/// <summary>
/// The payloads and results of split tasks on this node, by sha256 under <c>DATA_DIR/group-work/blobs</c>, and the
/// summaries of finished split tasks under <c>DATA_DIR/group-work/jobs</c> (what their status lists). Blobs older
/// than a day are removed.
/// </summary>
/// <remarks>Thread-safe: files are written to a temporary name and moved into place; content never changes.</remarks>
internal sealed class GroupBlobs
{
    public const int ChunkBytes = 512 * 1024;
    private static readonly TimeSpan KeepFor = TimeSpan.FromDays(1);
    private readonly string _blobs;
    private readonly string _jobs;

    public GroupBlobs(string dataDirectory)
    {
        var root = Path.Combine(dataDirectory, "group-work");
        _blobs = Directory.CreateDirectory(Path.Combine(root, "blobs")).FullName;
        _jobs = Directory.CreateDirectory(Path.Combine(root, "jobs")).FullName;
    }

    /// <summary>Where a blob that is not one of ours lives on this node (a stored model), or null.</summary>
    public Func<string, string?> Fallback { get; set; } = _ => null;

    public static bool IsHash(string? text) => text is { Length: 64 } && text.All(c => char.IsAsciiHexDigitLower(c) || char.IsAsciiDigit(c));

    /// <summary>Keeps <paramref name="bytes"/>; returns their sha256.</summary>
    public string Put(byte[] bytes)
    {
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var path = PathOf(sha);
        if (!File.Exists(path))
        {
            var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
            File.WriteAllBytes(temporary, bytes);
            File.Move(temporary, path, overwrite: true);
        }

        return sha;
    }

    public bool Has(string sha) => IsHash(sha) && File.Exists(PathOf(sha));

    public long Length(string sha) => new FileInfo(PathOf(sha)).Length;

    public byte[] Read(string sha) => File.ReadAllBytes(PathOf(sha));

    /// <summary>At most <see cref="ChunkBytes"/> from <paramref name="offset"/>.</summary>
    public byte[] Chunk(string sha, long offset)
    {
        using var file = File.OpenRead(PathOf(sha));
        file.Seek(offset, SeekOrigin.Begin);
        var buffer = new byte[(int)Math.Min(ChunkBytes, Math.Max(0, file.Length - offset))];
        file.ReadExactly(buffer);
        return buffer;
    }

    /// <summary>Removes blobs not used for a day.</summary>
    public void Prune(DateTimeOffset now)
    {
        foreach (var file in new DirectoryInfo(_blobs).EnumerateFiles())
        {
            if (now - file.LastWriteTimeUtc > KeepFor)
            {
                file.Delete();
            }
        }
    }

    public void SaveSummary(string parentId, JsonObject summary)
    {
        var path = SummaryPath(parentId);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, summary.ToJsonString());
        File.Move(temporary, path, overwrite: true);
    }

    public JsonObject? Summary(string parentId)
    {
        var path = SummaryPath(parentId);
        try
        {
            return File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path)) as JsonObject : null;
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private string PathOf(string sha)
    {
        if (!IsHash(sha))
        {
            throw new ArgumentException("not a sha256", nameof(sha));
        }

        var own = Path.Combine(_blobs, sha);
        return File.Exists(own) ? own : Fallback(sha) ?? own;
    }

    private string SummaryPath(string parentId) => Path.Combine(_jobs, Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(parentId))) + ".json");
}
