using System.Net;
using System.Net.Sockets;

namespace Tenzro.Node.Core.Dht;

/// <summary>
/// One contact in a bucket: when it was first and last heard from, and how many requests to it in a row failed since
/// (every attempt timed out); a contact with failures is stale until it is heard from again.
/// </summary>
public sealed record DhtTableEntry(DhtContact Contact, DateTimeOffset FirstSeen, DateTimeOffset LastSeen, int Failures = 0)
{
    public bool IsStale => Failures > 0;
}

/// <summary>What <see cref="RoutingTable.Seen"/> did with a contact.</summary>
public enum TableChange
{
    Added,
    Updated,

    /// <summary>The bucket is full: the caller pings the oldest entry and evicts it only if it does not answer.</summary>
    BucketFull,

    /// <summary>The bucket already holds two contacts of the contact's /24 (IPv4) or /48 (IPv6).</summary>
    SubnetFull,
    Self,
}

/// <summary>
/// The Kademlia routing table: 256 buckets by the length of the prefix an id shares with this node's, at most
/// <c>k</c> entries each, oldest first. Long-lived entries are kept (a newcomer to a full bucket waits for the
/// oldest to fail a ping), and a bucket takes at most two public addresses of one /24 or /48, which resists eclipse.
/// A contact that fails to answer is flagged stale, not removed: it leaves only when a newcomer to its full bucket
/// finds it still silent (it is the one pinged), as in the Kademlia paper (section 4.1), so that a node whose requests
/// all time out for a while (its own link down, or the machine overloaded) keeps its table; stale contacts are
/// offered after the others.
/// </summary>
/// <remarks>Not thread-safe: the owning <see cref="DhtNode"/> serialises every call under its lock.</remarks>
public sealed class RoutingTable
{
    private const int PerSubnet = 2;
    private readonly List<DhtTableEntry>[] _buckets = [.. Enumerable.Range(0, DhtId.Bits).Select(_ => new List<DhtTableEntry>())];
    private readonly DateTimeOffset[] _touched = new DateTimeOffset[DhtId.Bits];

    public RoutingTable(DhtId self, int k)
    {
        Self = self;
        K = k;
    }

    public DhtId Self { get; }

    public int K { get; }

    public int Count { get; private set; }

    /// <summary>Contacts that failed their last request and have not been heard from since (counted in <see cref="Count"/>).</summary>
    public int StaleCount { get; private set; }

    /// <summary>Buckets holding at least one contact; <see cref="Count"/> over k times this is how full the table is.</summary>
    public int BucketsInUse => _buckets.Count(b => b.Count > 0);

    /// <summary>Records that <paramref name="contact"/> was heard from at <paramref name="now"/>.</summary>
    public TableChange Seen(DhtContact contact, DateTimeOffset now)
    {
        if (contact.Id == Self)
        {
            return TableChange.Self;
        }

        _touched[Self.CommonPrefixLength(contact.Id)] = now;
        var (bucket, at) = Find(contact.Id);
        if (at >= 0)
        {
            // The sender proved its id by signing, so a new address (a restart on another port) replaces the old one.
            bucket.Add(TakeOut(bucket, at) with { Contact = contact, LastSeen = now, Failures = 0 });
            return TableChange.Updated;
        }

        if (Subnet(contact.Endpoint) is { } subnet && bucket.Count(e => Subnet(e.Contact.Endpoint) == subnet) >= PerSubnet)
        {
            return TableChange.SubnetFull;
        }

        if (bucket.Count >= K)
        {
            return TableChange.BucketFull;
        }

        bucket.Add(new DhtTableEntry(contact, now, now));
        Count++;
        return TableChange.Added;
    }

    /// <summary>
    /// The entry a newcomer to the full bucket of <paramref name="id"/> would replace if it fails a ping: the stalest
    /// (most failures in a row), else the one that has gone unheard the longest.
    /// </summary>
    public DhtTableEntry? NextToPing(DhtId id)
    {
        var bucket = _buckets[Math.Min(Self.CommonPrefixLength(id), DhtId.Bits - 1)];
        if (bucket.Count == 0)
        {
            return null;
        }

        var candidate = bucket[0];
        foreach (var entry in bucket)
        {
            if (entry.Failures > candidate.Failures)
            {
                candidate = entry;
            }
        }

        return candidate;
    }

    /// <summary>The bucket of <paramref name="id"/> (not this node's own) and the entry's place in it, -1 when it is not there.</summary>
    private (List<DhtTableEntry> Bucket, int At) Find(DhtId id)
    {
        var bucket = _buckets[Self.CommonPrefixLength(id)];
        return (bucket, bucket.FindIndex(e => e.Contact.Id == id));
    }

    /// <summary>Takes the entry at <paramref name="at"/> out of <paramref name="bucket"/>, no longer counting it as stale.</summary>
    private DhtTableEntry TakeOut(List<DhtTableEntry> bucket, int at)
    {
        var entry = bucket[at];
        bucket.RemoveAt(at);
        if (entry.IsStale)
        {
            StaleCount--;
        }

        return entry;
    }

    /// <summary>The contacts in bucket <paramref name="bucket"/>.</summary>
    public int CountIn(int bucket) => _buckets[bucket].Count;

    public bool Contains(DhtId id) => id != Self && _buckets[Self.CommonPrefixLength(id)].Exists(e => e.Contact.Id == id);

    public bool Remove(DhtId id)
    {
        if (id == Self || Find(id) is not (var bucket, >= 0 and var at))
        {
            return false;
        }

        TakeOut(bucket, at);
        Count--;
        return true;
    }

    /// <summary>
    /// Records that a request to <paramref name="id"/> failed (every attempt timed out): the entry stays, flagged stale,
    /// until it is heard from again or a newcomer to its full bucket takes its place. Gives its failures in a row, 0
    /// when the id is not in the table.
    /// </summary>
    public int Failed(DhtId id)
    {
        if (id == Self || Find(id) is not (var bucket, >= 0 and var at))
        {
            return 0;
        }

        var entry = bucket[at];
        if (!entry.IsStale)
        {
            StaleCount++;
        }

        bucket[at] = entry with { Failures = entry.Failures + 1 };
        return entry.Failures + 1;
    }

    /// <summary>
    /// The <paramref name="count"/> contacts closest to <paramref name="target"/>, closest first; stale contacts come
    /// only where fewer than <paramref name="count"/> others are known, after them.
    /// </summary>
    public List<DhtContact> Closest(DhtId target, int count)
    {
        var live = new List<DhtContact>(Count - StaleCount);
        var stale = new List<DhtContact>(StaleCount);
        foreach (var bucket in _buckets)
        {
            foreach (var entry in bucket)
            {
                (entry.IsStale ? stale : live).Add(entry.Contact);
            }
        }

        Comparison<DhtContact> byDistance = (x, y) => target.CompareDistance(x.Id, y.Id);
        live.Sort(byDistance);
        if (live.Count >= count)
        {
            live.RemoveRange(count, live.Count - count);
            return live;
        }

        stale.Sort(byDistance);
        live.AddRange(stale.Take(count - live.Count));
        return live;
    }

    /// <summary>
    /// How many live contacts other than <paramref name="except"/> are closer to <paramref name="target"/> than
    /// <paramref name="id"/> (counting stops at <paramref name="limit"/>); stale contacts do not count.
    /// </summary>
    public int CountCloser(DhtId target, DhtId id, DhtId except, int limit)
    {
        var count = 0;
        foreach (var bucket in _buckets)
        {
            foreach (var entry in bucket)
            {
                if (!entry.IsStale && entry.Contact.Id != except && target.CompareDistance(entry.Contact.Id, id) < 0 && ++count >= limit)
                {
                    return count;
                }
            }
        }

        return count;
    }

    public IEnumerable<DhtTableEntry> Entries() => _buckets.SelectMany(b => b);

    /// <summary>
    /// Buckets not touched since <paramref name="before"/>, up to the deepest bucket that holds anything (deeper ones
    /// are empty because no such ids exist near this node): refreshing them looks up a random id in each.
    /// </summary>
    public IEnumerable<int> IdleBuckets(DateTimeOffset before)
    {
        var deepest = Array.FindLastIndex(_buckets, b => b.Count > 0);
        for (var i = 0; i <= deepest; i++)
        {
            if (_touched[i] < before)
            {
                yield return i;
            }
        }
    }

    public void Touch(int bucket, DateTimeOffset now) => _touched[bucket] = now;

    /// <summary>The /24 of a public IPv4 address or the /48 of a public IPv6 one; null for loopback, private and link-local addresses (exempt) and names.</summary>
    public static string? Subnet(string endpoint)
    {
        var colon = endpoint.LastIndexOf(':');
        var host = (colon > 0 ? endpoint[..colon] : endpoint).Trim('[', ']');
        if (!IPAddress.TryParse(host, out var address))
        {
            return null;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IsExempt(address))
        {
            return null;
        }

        var bytes = address.GetAddressBytes();
        return address.AddressFamily == AddressFamily.InterNetwork
            ? $"{bytes[0]}.{bytes[1]}.{bytes[2]}/24"
            : Convert.ToHexStringLower(bytes.AsSpan(0, 6)) + "/48";
    }

    private static bool IsExempt(IPAddress address)
    {
        if (IPAddress.IsLoopback(address))
        {
            return true;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] == 10 || (b[0] == 172 && b[1] >= 16 && b[1] < 32) || (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254);
        }

        return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal;
    }
}
