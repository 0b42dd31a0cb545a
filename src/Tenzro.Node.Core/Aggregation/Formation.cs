namespace Tenzro.Node.Core.Aggregation;

/// <summary>A proposal to form (or to join) a group, as a node weighs it against the one it holds.</summary>
public sealed record GroupProposal(string GroupId, string Founder, bool Existing);

/// <summary>
/// The deterministic rules of formation (docs/AGGREGATION.md "Formation"): who founds a group, how many it takes,
/// and which of two racing proposals a node follows, so that every node ends in the same group.
/// </summary>
/// <remarks>Pure functions: thread-safe.</remarks>
public static class Formation
{
    /// <summary>A group has at most this many members; a sixth eligible node starts a second group.</summary>
    public const int MaxMembers = 5;

    /// <summary>
    /// The founder of a new group among <paramref name="eligible"/> (this node included): the lowest node id. Only
    /// the founder cold-starts the group log; two cold starts would make two leaders.
    /// </summary>
    public static string Founder(IEnumerable<string> eligible) =>
        eligible.Min(StringComparer.Ordinal) ?? throw new ArgumentException("no eligible node", nameof(eligible));

    /// <summary>The nodes the founder <paramref name="self"/> invites: the lowest ids, up to a full group with itself.</summary>
    public static IReadOnlyList<string> Invitees(string self, IEnumerable<string> eligiblePeers) =>
        [.. eligiblePeers.Where(p => p != self).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Take(MaxMembers - 1)];

    /// <summary>
    /// Whether a node holding <paramref name="current"/> (null: none) switches to <paramref name="challenger"/>: a
    /// group that exists already beats one being formed; of two new groups, the lower founder wins; a founder's
    /// newer proposal replaces its older one. Every node applying this ends with the proposal of the lowest founder.
    /// </summary>
    public static bool Prefers(GroupProposal challenger, GroupProposal? current)
    {
        ArgumentNullException.ThrowIfNull(challenger);
        if (current is null)
        {
            return true;
        }

        if (challenger.Existing != current.Existing)
        {
            return challenger.Existing;
        }

        return string.CompareOrdinal(challenger.Founder, current.Founder) <= 0;
    }
}
