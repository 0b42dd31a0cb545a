namespace Tenzro.Node.Core.Dht;

/// <summary>The Kademlia parameters of one node. Defaults are those of CONTRACTS (k = 20, α = 3).</summary>
public sealed record DhtNodeOptions
{
    /// <summary>Bucket size and the number of closest nodes a lookup returns and a record is stored on.</summary>
    public int K { get; init; } = 20;

    /// <summary>Requests a lookup round sends in parallel.</summary>
    public int Alpha { get; init; } = 3;

    /// <summary>
    /// How long one attempt of a request waits for its reply at most: the timeout of a contact whose round trips are
    /// not known yet, and the ceiling of the timeouts that follow measured round trips.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMilliseconds(800);

    /// <summary>The shortest timeout that measured round trips may give a request (a floor against a busy machine's pauses).</summary>
    public TimeSpan MinRequestTimeout { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Attempts after the first before a contact counts as failed (and leaves the table).</summary>
    public int Retries { get; init; } = 1;

    /// <summary>A bucket not touched for this long is refreshed by a lookup of a random id in it (DHT_REFRESH_INTERVAL).</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Records one FIND_VALUE reply carries at most (CONTRACTS: 8).</summary>
    public int MaxValuesPerReply { get; init; } = 8;

    public DhtStoreLimits Store { get; init; } = new();
}
