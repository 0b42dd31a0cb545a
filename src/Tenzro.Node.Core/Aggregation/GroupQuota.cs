namespace Tenzro.Node.Core.Aggregation;

/// <summary>What <see cref="GroupQuota.Admit"/> decided about one group message.</summary>
public enum QuotaVerdict
{
    Admitted,

    /// <summary>Over the quota: dropped.</summary>
    Dropped,

    /// <summary>Over the quota: dropped, and the first drop of a new second, which counts as one misbehaviour strike.</summary>
    DroppedStrike,
}

/// <summary>
/// Per-peer quota of <c>group</c> messages (docs/AGGREGATION.md "Quotas"), on top of the peer links' own flood
/// limit: a token bucket per peer of <see cref="MessagesPerSecond"/> messages and <see cref="BytesPerSecond"/>
/// bytes a second, holding up to <see cref="BurstSeconds"/> seconds of each. A message over either is dropped;
/// a peer that goes over in three separate seconds within a minute is excluded (<see cref="GroupExclusions"/>).
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed class GroupQuota(TimeProvider time)
{
    /// <summary>Formation, queries and split-work messages together; a group of five exchanges far fewer.</summary>
    public const double MessagesPerSecond = 50;

    /// <summary>Group messages carry metadata only (payloads move as blobs), so 256 KiB a second is ample.</summary>
    public const double BytesPerSecond = 256 * 1024;

    public const double BurstSeconds = 2;

    /// <summary>At most this many of one peer's group messages wait in the inbox; more are dropped.</summary>
    public const int MaxQueuedPerPeer = 64;

    private const int MaxTracked = 1024;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);

    private sealed class Bucket(DateTimeOffset now)
    {
        public double Messages { get; set; } = MessagesPerSecond * BurstSeconds;

        public double Bytes { get; set; } = BytesPerSecond * BurstSeconds;

        public DateTimeOffset Refilled { get; set; } = now;

        public DateTimeOffset LastStrike { get; set; } = DateTimeOffset.MinValue;
    }

    /// <summary>Takes one message of <paramref name="bytes"/> bytes from <paramref name="peerId"/> out of its quota.</summary>
    public QuotaVerdict Admit(string peerId, long bytes)
    {
        ArgumentNullException.ThrowIfNull(peerId);
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (!_buckets.TryGetValue(peerId, out var bucket))
            {
                Prune(now);
                _buckets[peerId] = bucket = new Bucket(now);
            }

            var elapsed = Math.Max(0, (now - bucket.Refilled).TotalSeconds);
            bucket.Refilled = now;
            bucket.Messages = Math.Min(MessagesPerSecond * BurstSeconds, bucket.Messages + (elapsed * MessagesPerSecond));
            bucket.Bytes = Math.Min(BytesPerSecond * BurstSeconds, bucket.Bytes + (elapsed * BytesPerSecond));
            if (bucket.Messages >= 1 && bucket.Bytes >= bytes)
            {
                bucket.Messages -= 1;
                bucket.Bytes -= bytes;
                return QuotaVerdict.Admitted;
            }

            return Dropped(bucket, now);
        }
    }

    /// <summary>Counts a message dropped because the peer's queue is full, like one over the quota.</summary>
    public QuotaVerdict QueueFull(string peerId)
    {
        ArgumentNullException.ThrowIfNull(peerId);
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (!_buckets.TryGetValue(peerId, out var bucket))
            {
                _buckets[peerId] = bucket = new Bucket(now);
            }

            return Dropped(bucket, now);
        }
    }

    /// <summary>Past <see cref="MaxTracked"/> peers, forgets those idle for a minute (a full bucket again).</summary>
    private void Prune(DateTimeOffset now)
    {
        if (_buckets.Count < MaxTracked)
        {
            return;
        }

        foreach (var idle in _buckets.Where(b => now - b.Value.Refilled > TimeSpan.FromMinutes(1)).Select(b => b.Key).ToList())
        {
            _buckets.Remove(idle);
        }
    }

    private static QuotaVerdict Dropped(Bucket bucket, DateTimeOffset now)
    {
        if (now - bucket.LastStrike < TimeSpan.FromSeconds(1))
        {
            return QuotaVerdict.Dropped;
        }

        bucket.LastStrike = now;
        return QuotaVerdict.DroppedStrike;
    }
}
