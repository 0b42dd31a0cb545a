using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Core.Dht;

/// <summary>
/// The end of one iterative lookup: the closest nodes that answered (closest first, at most k), the records found
/// (FIND_VALUE), the hops and rounds it took, and how long.
/// </summary>
/// <param name="Hops">The round whose answers named the last of the closest nodes found (0 when the routing table
/// already held them all): the rounds the lookup needed to learn its result.</param>
/// <param name="Rounds">Every round sent, including the last, which only confirms the closest nodes by asking them.</param>
public sealed record DhtLookupResult(
    DhtId Target,
    IReadOnlyList<DhtContact> Closest,
    IReadOnlyList<NodeRecord> Records,
    int Hops,
    int Rounds,
    int Queried,
    int Failed,
    TimeSpan Duration)
{
    /// <summary>A lookup succeeds when at least one node answered it.</summary>
    public bool Succeeded => Closest.Count > 0 || Records.Count > 0;
}
