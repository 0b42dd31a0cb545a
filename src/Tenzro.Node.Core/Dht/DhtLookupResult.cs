using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Core.Dht;

/// <summary>
/// The end of one iterative lookup: the closest nodes that answered (closest first, at most k), the records found
/// (FIND_VALUE), the hops it took, and how long.
/// </summary>
/// <param name="Hops">Every round of requests the lookup sent, including the last, which only confirms the closest nodes by asking them.</param>
public sealed record DhtLookupResult(
    DhtId Target,
    IReadOnlyList<DhtContact> Closest,
    IReadOnlyList<NodeRecord> Records,
    int Hops,
    int Queried,
    int Failed,
    TimeSpan Duration)
{
    /// <summary>A lookup succeeds when at least one node answered it.</summary>
    public bool Succeeded => Closest.Count > 0 || Records.Count > 0;
}
