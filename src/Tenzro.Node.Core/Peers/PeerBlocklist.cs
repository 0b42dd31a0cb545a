using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.Core.Peers;

/// <summary>
/// Peers the operator keeps out (<c>tenzro-node peers block ID</c>, <c>POST /api/peers/{id}/block</c>): no link opens
/// with them either way, and no group admits them. Saved in <c>DATA_DIR/blocked-peers.json</c>, so a block lasts
/// across restarts until <c>DELETE /api/peers/{id}/block</c>.
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed class PeerBlocklist
{
    private readonly Lock _lock = new();
    private readonly string? _path;
    private readonly SortedSet<string> _blocked = new(StringComparer.Ordinal);

    /// <summary>A list kept in <paramref name="dataDirectory"/>; null keeps it in memory only.</summary>
    public PeerBlocklist(string? dataDirectory)
    {
        _path = dataDirectory is null ? null : Path.Combine(dataDirectory, "blocked-peers.json");
        if (_path is not null && File.Exists(_path))
        {
            try
            {
                foreach (var id in JsonNode.Parse(File.ReadAllText(_path))?["blocked"]?.AsArray() ?? [])
                {
                    if (id?.GetValue<string>() is { } text && IsNodeId(text))
                    {
                        _blocked.Add(text);
                    }
                }
            }
            catch (JsonException)
            {
                // A damaged file blocks nothing; the next block rewrites it.
            }
        }
    }

    public bool IsBlocked(string id)
    {
        lock (_lock)
        {
            return _blocked.Contains(id);
        }
    }

    public IReadOnlyList<string> Blocked
    {
        get
        {
            lock (_lock)
            {
                return [.. _blocked];
            }
        }
    }

    /// <summary>Blocks <paramref name="id"/>; false when it was blocked already.</summary>
    public bool Block(string id) => Change(() => _blocked.Add(id));

    /// <summary>Lifts the block of <paramref name="id"/>; false when it was not blocked.</summary>
    public bool Unblock(string id) => Change(() => _blocked.Remove(id));

    /// <summary>A node id: 64 lowercase hex digits.</summary>
    public static bool IsNodeId(string id) => id.Length == 64 && id.All(char.IsAsciiHexDigitLower);

    private bool Change(Func<bool> change)
    {
        lock (_lock)
        {
            if (!change())
            {
                return false;
            }

            if (_path is not null)
            {
                var temporary = _path + ".tmp";
                File.WriteAllText(temporary, new JsonObject { ["blocked"] = new JsonArray([.. _blocked.Select(b => (JsonNode)b)]) }.ToJsonString());
                File.Move(temporary, _path, overwrite: true);
            }

            return true;
        }
    }
}
