namespace Tenzro.Node.Core.Aggregation;

/// <summary>
/// How a member learns that it was removed (docs/AGGREGATION.md "Leaving"). Raft does not tell a removed member:
/// the leader stops sending it entries, so it only sees its leader go silent. A member without a leader for
/// <see cref="QueryAfter"/> asks the other members for the group as their logs committed it; an answer from a
/// member of its group that follows a leader and no longer lists this node ends its membership at once.
/// </summary>
/// <remarks>Pure functions: thread-safe.</remarks>
public static class Membership
{
    /// <summary>Leaderless for three election timeouts (an election takes one to two): the member asks the others.</summary>
    public static TimeSpan QueryAfter(TimeSpan electionTimeout) => electionTimeout * 3;

    /// <summary>
    /// Whether the <c>roster</c> answer <paramref name="answered"/> from <paramref name="from"/>, which follows
    /// <paramref name="leaderId"/>, shows that <paramref name="self"/> was removed from the group it knows as
    /// <paramref name="known"/>: same group, the answer comes from another member of it, that member has a leader,
    /// and the committed members no longer include this node.
    /// </summary>
    public static bool Removed(GroupState known, string self, string from, GroupState answered, string? leaderId)
    {
        ArgumentNullException.ThrowIfNull(known);
        ArgumentNullException.ThrowIfNull(answered);
        return known.GroupId.Length > 0
            && answered.GroupId == known.GroupId
            && from != self
            && known.Find(from) is not null
            && answered.Find(from) is not null
            && !string.IsNullOrEmpty(leaderId)
            && leaderId != self
            && answered.Find(leaderId) is not null
            && answered.Find(self) is null;
    }
}
