using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Core.Dht;

public sealed partial class DhtNode
{
    private const int JoinAttempts = 3;

    /// <summary>
    /// Joins the DHT: pings <paramref name="bootstrap"/> endpoints (ids unknown), then looks this node up through
    /// whatever the table holds (those that answered, a saved table, LAN peers), which fills the buckets near it, then
    /// looks up a random id in each empty bucket farther than its closest neighbour (asking the bootstrap contacts
    /// too), so that it knows nodes in every part of the id space and not only near itself.
    /// </summary>
    /// <returns>The contacts of the bootstrap list that answered.</returns>
    public async Task<IReadOnlyList<DhtContact>> JoinAsync(IEnumerable<string> bootstrap)
    {
        ArgumentNullException.ThrowIfNull(bootstrap);
        var endpoints = bootstrap.ToList();
        if (endpoints.Count > 0)
        {
            _joinedThrough = endpoints;
        }

        List<DhtContact> answered = [];
        for (var attempt = 0; attempt < JoinAttempts; attempt++)
        {
            // A join whose datagrams were all lost (the ping and its retry, or the first lookup's) leaves the table
            // empty, and this node unknown to every other: it tries again at once.
            answered = [.. (await Task.WhenAll(endpoints.Select(endpoint => PingAsync(endpoint))).ConfigureAwait(false)).OfType<DhtContact>()];
            await LookupAsync(Self, seeds: answered).ConfigureAwait(false);
            if (endpoints.Count == 0 || LiveContacts > 0)
            {
                break;
            }
        }

        var empty = Read(() =>
        {
            var nearest = Table.Closest(Self, 1);
            var limit = nearest.Count == 0 ? 0 : Self.CommonPrefixLength(nearest[0].Id);
            return Enumerable.Range(0, limit).Where(b => Table.CountIn(b) == 0).ToList();
        });
        await Task.WhenAll(empty.Select(b => LookupAsync(Self.RandomInBucket(b), seeds: answered))).ConfigureAwait(false);
        return answered;
    }

    /// <summary>
    /// Looks up a random id in every bucket that was not touched for <see cref="DhtNodeOptions.RefreshInterval"/>
    /// (all of them with <paramref name="all"/>), which keeps far buckets filled and flags dead contacts stale (<see cref="RoutingTable.Failed"/>).
    /// </summary>
    /// <returns>How many buckets were refreshed.</returns>
    public async Task<int> RefreshAsync(bool all = false)
    {
        var now = _time.GetUtcNow();
        var buckets = Read(() =>
        {
            var idle = Table.IdleBuckets(all ? DateTimeOffset.MaxValue : now - Options.RefreshInterval).ToList();
            foreach (var bucket in idle)
            {
                Table.Touch(bucket, now);
            }

            return idle;
        });
        await Task.WhenAll(buckets.Select(b => LookupAsync(Self.RandomInBucket(b)))).ConfigureAwait(false);
        LastRefreshAt = _time.GetUtcNow();
        return buckets.Count;
    }

    /// <summary>Stores <paramref name="record"/> under its node's id and under its tier-and-region key, on the k closest nodes of each.</summary>
    /// <returns>How many nodes kept it under each key.</returns>
    public async Task<(int UnderId, int UnderTier)> PublishAsync(NodeRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var underId = StoreAsync(DhtId.Parse(record.Id), record);
        var underTier = StoreAsync(DhtId.TierKey(record.Content.Tier, record.Content.Region), record);
        return (await underId.ConfigureAwait(false), await underTier.ConfigureAwait(false));
    }

    /// <summary>Finds the k nodes closest to <paramref name="key"/> and sends each a STORE of <paramref name="record"/>; how many kept it.</summary>
    public async Task<int> StoreAsync(DhtId key, NodeRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var lookup = await LookupAsync(key).ConfigureAwait(false);
        var kept = 0;
        Locked(() =>
        {
            // This node may be among the closest itself: it holds the record as well.
            if (Records.Put(key, record.Json, _time.GetUtcNow(), out _) is null)
            {
                kept++;
            }
        });
        var stores = lookup.Closest.Select(contact =>
        {
            var completion = new TaskCompletionSource<int>();
            Locked(() => Request(
                contact.Endpoint,
                contact.Id,
                new DhtMessage { Type = DhtMessageType.Store, RequestId = NewRequestId(), Sender = Self, Target = key, Records = [record.Json] },
                replies => _after.Add(() => completion.TrySetResult(replies?.Sum(r => r.Accepted) > 0 ? 1 : 0))));
            return completion.Task;
        }).ToList();
        return kept + (await Task.WhenAll(stores).ConfigureAwait(false)).Sum();
    }

    /// <summary>How soon after one rejoin a search may make another (see <see cref="RejoinIfAllStaleAsync"/>).</summary>
    public static readonly TimeSpan RejoinSpacing = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Before a search: a routing table whose every contact failed its last request (as when this node's link was down)
    /// is filled again through the endpoints this node last joined through, at most once every
    /// <see cref="RejoinSpacing"/>, rather than the search asking only contacts that did not answer until the next refresh.
    /// The stale contacts stay: the search asks them too, after the others.
    /// </summary>
    private async Task RejoinIfAllStaleAsync()
    {
        var through = _joinedThrough;
        if (through.Count == 0 || LiveContacts > 0)
        {
            return;
        }

        var now = _time.GetUtcNow().UtcTicks;
        var last = Interlocked.Read(ref _rejoinedAtTicks);
        if ((last != 0 && now - last < RejoinSpacing.Ticks) || Interlocked.CompareExchange(ref _rejoinedAtTicks, now, last) != last)
        {
            return;
        }

        await JoinAsync(through).ConfigureAwait(false);
    }

    /// <summary>The records of nodes of <paramref name="tier"/> in <paramref name="region"/> that the DHT holds (at most 64 per holder).</summary>
    public async Task<DhtLookupResult> FindTierAsync(string tier, string region)
    {
        await RejoinIfAllStaleAsync().ConfigureAwait(false);
        var key = DhtId.TierKey(tier, region);
        var result = await GatherAsync(key).ConfigureAwait(false);
        var own = Read(() => Records.Get(key, _time.GetUtcNow(), Options.Store.PerKey));
        return result with { Records = [.. result.Records.UnionBy(own, r => r.Id).Where(r => r.Content.Tier == tier && r.Content.Region == region)] };
    }

    /// <summary>The record of node <paramref name="id"/>, or null when no holder answered with one.</summary>
    public async Task<NodeRecord?> FindRecordAsync(DhtId id)
    {
        await RejoinIfAllStaleAsync().ConfigureAwait(false);
        var result = await LookupAsync(id, findValue: true).ConfigureAwait(false);
        var text = id.ToString();
        return result.Records.Where(r => r.Id == text).MaxBy(r => r.Seq);
    }

    /// <summary>Drops expired records (called by the host's maintenance loop).</summary>
    public void ExpireRecords() => Locked(() => Records.Expire(_time.GetUtcNow()));
}
