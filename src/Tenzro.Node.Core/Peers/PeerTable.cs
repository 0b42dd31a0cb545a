namespace Tenzro.Node.Core.Peers;

/// <summary>How a peer came to be known (<c>foundBy</c> of <c>/api/peers</c>).</summary>
public static class PeerSource
{
    public const string Bootstrap = "bootstrap";
    public const string Inbound = "inbound";
    public const string Regional = "regional";
    public const string Lan = "lan";
    public const string Dht = "dht";
}

/// <summary>The state of the link to a peer, as <c>/api/peers</c> names it.</summary>
public enum PeerLinkState
{
    None,
    Connecting,
    Open,
    Failed,
}

/// <summary>One known peer. Immutable; the table replaces entries.</summary>
public sealed record PeerEntry
{
    public required string Id { get; init; }
    public IReadOnlyList<string> Addresses { get; init; } = [];
    public IReadOnlySet<string> FoundBy { get; init; } = new SortedSet<string>(StringComparer.Ordinal);
    public string? Tier { get; init; }
    public string? Region { get; init; }
    public DateTimeOffset LastSeen { get; init; }
    public PeerLinkState Link { get; init; }
    public double? RttMs { get; init; }
    public string? LastError { get; init; }

    /// <summary>The last record the peer proved, when it sent one.</summary>
    public NodeRecord? Record { get; init; }

    public static string LinkName(PeerLinkState state) => state switch
    {
        PeerLinkState.Connecting => "connecting",
        PeerLinkState.Open => "open",
        PeerLinkState.Failed => "failed",
        _ => "none",
    };
}

/// <summary>
/// Every peer this node knows of, whoever found it: the regional node's peer list, the static <c>tenzro://</c>
/// entries, peers that dialled in, and later LAN discovery and the DHT. Read by <c>/api/peers</c>.
/// </summary>
/// <remarks>Thread-safe: every change replaces one entry under a lock; readers get a snapshot.</remarks>
public sealed class PeerTable(TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, PeerEntry> _peers = new(StringComparer.Ordinal);

    /// <summary>The node's own id, never listed.</summary>
    public string? SelfId { get; set; }

    /// <summary>Adds or changes the entry of <paramref name="id"/>; <paramref name="update"/> gets the current entry or a fresh one.</summary>
    public PeerEntry Update(string id, Func<PeerEntry, PeerEntry> update)
    {
        ArgumentNullException.ThrowIfNull(update);
        lock (_lock)
        {
            var current = _peers.TryGetValue(id, out var entry) ? entry : new PeerEntry { Id = id, LastSeen = time.GetUtcNow() };
            var next = update(current) with { Id = id };
            if (id != SelfId)
            {
                _peers[id] = next;
            }

            return next;
        }
    }

    /// <summary>Marks <paramref name="id"/> as found by <paramref name="source"/>.</summary>
    public PeerEntry Found(string id, string source, IReadOnlyList<string>? addresses = null) =>
        Update(id, e => e with
        {
            FoundBy = new SortedSet<string>(e.FoundBy.Append(source), StringComparer.Ordinal),
            Addresses = addresses is { Count: > 0 } ? [.. e.Addresses.Union(addresses, StringComparer.Ordinal)] : e.Addresses,
        });

    /// <summary>
    /// Takes <paramref name="source"/> from the entry of <paramref name="id"/> (a LAN peer that said goodbye or
    /// expired); an entry that no source names any more and has no open link is removed.
    /// </summary>
    public void Lost(string id, string source)
    {
        lock (_lock)
        {
            if (!_peers.TryGetValue(id, out var entry))
            {
                return;
            }

            var rest = new SortedSet<string>(entry.FoundBy.Where(s => s != source), StringComparer.Ordinal);
            if (rest.Count == 0 && entry.Link != PeerLinkState.Open)
            {
                _peers.Remove(id);
            }
            else
            {
                _peers[id] = entry with { FoundBy = rest };
            }
        }
    }

    /// <summary>
    /// Makes <paramref name="source"/> name exactly the peers in <paramref name="peers"/> (the regional node's list,
    /// which it replaces as a whole): entries no other source knows are removed.
    /// </summary>
    public void ReplaceSource(string source, IEnumerable<(string Id, string? Tier, string? Region)> peers)
    {
        ArgumentNullException.ThrowIfNull(peers);
        var now = time.GetUtcNow();
        lock (_lock)
        {
            var listed = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (id, tier, region) in peers)
            {
                if (id == SelfId || !listed.Add(id))
                {
                    continue;
                }

                var current = _peers.TryGetValue(id, out var entry) ? entry : new PeerEntry { Id = id, LastSeen = now };
                _peers[id] = current with
                {
                    FoundBy = new SortedSet<string>(current.FoundBy.Append(source), StringComparer.Ordinal),
                    Tier = current.Tier ?? tier,
                    Region = current.Region ?? region,
                    LastSeen = current.Link == PeerLinkState.Open ? current.LastSeen : now,
                };
            }

            foreach (var entry in _peers.Values.Where(e => e.FoundBy.Contains(source) && !listed.Contains(e.Id)).ToList())
            {
                var rest = new SortedSet<string>(entry.FoundBy.Where(s => s != source), StringComparer.Ordinal);
                if (rest.Count == 0 && entry.Link is PeerLinkState.None)
                {
                    _peers.Remove(entry.Id);
                }
                else
                {
                    _peers[entry.Id] = entry with { FoundBy = rest };
                }
            }
        }
    }

    public PeerEntry? Get(string id)
    {
        lock (_lock)
        {
            return _peers.GetValueOrDefault(id);
        }
    }

    /// <summary>Every known peer, ordered by id.</summary>
    public IReadOnlyList<PeerEntry> Snapshot()
    {
        lock (_lock)
        {
            return [.. _peers.Values.OrderBy(p => p.Id, StringComparer.Ordinal)];
        }
    }

    /// <summary>Peers with an open link.</summary>
    public int OpenLinks
    {
        get
        {
            lock (_lock)
            {
                return _peers.Values.Count(p => p.Link == PeerLinkState.Open);
            }
        }
    }
}
