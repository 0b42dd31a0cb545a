using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Core.Dht;

/// <summary>
/// The DHT as the API and health checks see it (the <c>dht</c> part of <c>/api/network/status</c> and the tier
/// search of <c>/api/peers</c>). The host's DHT service implements it.
/// </summary>
/// <remarks>Implementations are thread-safe.</remarks>
public interface IDhtStatus
{
    /// <summary>DHT_ENABLED.</summary>
    bool Enabled { get; }

    /// <summary><c>off</c>, <c>joining</c>, <c>running</c> or <c>failed</c>.</summary>
    string State { get; }

    /// <summary>Why the DHT is not running; null while it is (or while it is off).</summary>
    string? Error { get; }

    /// <summary>The bound UDP port; 0 when none.</summary>
    int Port { get; }

    int RoutingTableSize { get; }

    /// <summary>Contacts of the table that failed their last request and were not heard from since (kept, offered last).</summary>
    int StaleContacts { get; }

    /// <summary>Buckets holding a contact: the table can hold k times as many contacts as this.</summary>
    int BucketsInUse { get; }

    /// <summary>Records held for others (and this node's own).</summary>
    int Records { get; }

    DateTimeOffset? LastRefreshAt { get; }

    /// <summary>
    /// Searches the DHT for the records of nodes of <paramref name="tier"/> in <paramref name="region"/>; the nodes
    /// found are added to the peer table with <c>foundBy: dht</c>. Empty when the DHT is not running.
    /// </summary>
    Task<IReadOnlyList<NodeRecord>> FindTierAsync(string tier, string region, CancellationToken cancellationToken);
}
