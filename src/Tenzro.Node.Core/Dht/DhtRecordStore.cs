using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Core.Dht;

/// <summary>The bounds of what one node holds for others.</summary>
public sealed record DhtStoreLimits
{
    /// <summary>Records under one tier key (CONTRACTS: 64).</summary>
    public int PerKey { get; init; } = 64;

    public int MaxRecords { get; init; } = 4096;

    /// <summary>Canonical bytes of all records held.</summary>
    public long MaxBytes { get; init; } = 4L * 1024 * 1024;

    /// <summary>STORE requests one sender may make per minute (a burst of this many, refilled evenly).</summary>
    public int StoresPerMinute { get; init; } = 60;
}

/// <summary>
/// The records this node holds for the DHT: signed node records only, each under its node's id or under its
/// tier-and-region key, the highest <c>seq</c> per node and key, expired ones dropped, bounded in count and bytes.
/// </summary>
/// <remarks>Not thread-safe: the owning <see cref="DhtNode"/> calls it under its lock.</remarks>
public sealed class DhtRecordStore(DhtStoreLimits limits)
{
    private readonly Dictionary<DhtId, Dictionary<string, (NodeRecord Record, int Bytes)>> _byKey = [];
    private long _bytes;

    public int Count { get; private set; }

    public long Bytes => _bytes;

    /// <summary>Checks and keeps <paramref name="json"/> under <paramref name="key"/>; the refusal says why not.</summary>
    public P2pRefusal? Put(DhtId key, JsonObject json, DateTimeOffset now, out NodeRecord? record)
    {
        record = NodeRecord.Read(json, now, out var refusal);
        if (record is null)
        {
            return refusal;
        }

        if (!DhtId.TryParse(record.Id, out var id) || (key != id && key != DhtId.TierKey(record.Content.Tier, record.Content.Region)))
        {
            return new P2pRefusal(P2pRejection.WrongId, $"a record of {NodeRecord.Short(record.Id)} does not belong under key {NodeRecord.Short(key.ToString())}: only its id and its tier-and-region key");
        }

        if (!_byKey.TryGetValue(key, out var records))
        {
            records = new Dictionary<string, (NodeRecord, int)>(StringComparer.Ordinal);
        }

        var size = CanonicalJson.Serialize(record.Json).Length;
        if (records.TryGetValue(record.Id, out var held))
        {
            if (record.Seq < held.Record.Seq)
            {
                return new P2pRefusal(P2pRejection.Stale, $"the record of {NodeRecord.Short(record.Id)} has seq {record.Seq}, older than the {held.Record.Seq} held");
            }

            if (record.Seq == held.Record.Seq)
            {
                return null;
            }

            Drop(records, record.Id);
        }
        else
        {
            Expire(now);
            if (records.Count >= limits.PerKey)
            {
                return new P2pRefusal(P2pRejection.Limit, $"key {NodeRecord.Short(key.ToString())} already holds {limits.PerKey} records");
            }

            if (Count >= limits.MaxRecords || _bytes + size > limits.MaxBytes)
            {
                return new P2pRefusal(P2pRejection.Limit, $"this node holds {Count} records ({_bytes} bytes), its limit");
            }
        }

        records[record.Id] = (record, size);
        _byKey[key] = records;
        Count++;
        _bytes += size;
        return null;
    }

    /// <summary>
    /// Up to <paramref name="max"/> live records under <paramref name="key"/>, picked at random when there are more,
    /// so that a lookup asking several holders gathers more than <paramref name="max"/> in all.
    /// </summary>
    public List<NodeRecord> Get(DhtId key, DateTimeOffset now, int max)
    {
        if (!_byKey.TryGetValue(key, out var records))
        {
            return [];
        }

        // In a random order: a reply carries as many as fit in its datagrams, often fewer than max, so that the holders
        // asked by one lookup together return every record rather than each the same first few.
        var live = records.Values.Select(r => r.Record).Where(r => !r.IsExpired(now)).ToArray();
        Random.Shared.Shuffle(live);

        return [.. live.Take(max)];
    }

    /// <summary>The keys this node holds records under.</summary>
    public IReadOnlyList<DhtId> Keys => [.. _byKey.Keys];

    /// <summary>Drops every expired record.</summary>
    public void Expire(DateTimeOffset now)
    {
        foreach (var (key, records) in _byKey.ToList())
        {
            foreach (var id in records.Where(r => r.Value.Record.IsExpired(now)).Select(r => r.Key).ToList())
            {
                Drop(records, id);
            }

            if (records.Count == 0)
            {
                _byKey.Remove(key);
            }
        }
    }

    private void Drop(Dictionary<string, (NodeRecord Record, int Bytes)> records, string id)
    {
        if (records.Remove(id, out var held))
        {
            Count--;
            _bytes -= held.Bytes;
        }
    }
}
