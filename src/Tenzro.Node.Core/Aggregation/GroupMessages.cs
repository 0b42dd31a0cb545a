using System.Text.Json.Nodes;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Core.Aggregation;

/// <summary>The steps of the formation exchange (the <c>step</c> member of a <c>group</c> message).</summary>
public static class GroupStep
{
    public const string Propose = "propose";
    public const string Accept = "accept";
    public const string Decline = "decline";
    public const string Finalize = "finalize";

    /// <summary>A draining member asks the leader to remove it.</summary>
    public const string Leave = "leave";

    /// <summary>The leader tells a member that it was removed, so it stops its log at once.</summary>
    public const string Removed = "removed";

    /// <summary>A member without a leader asks the other members for the group as their log committed it.</summary>
    public const string Query = "query";

    /// <summary>The answer to <see cref="Query"/>: the committed members and the leader the answering member follows.</summary>
    public const string Roster = "roster";
}

/// <summary>
/// Formation messages on peer links (docs/AGGREGATION.md "Formation"): <c>{"type":"group","step":…,"groupId":…}</c>
/// plus the step's members, stamped with <c>timestamp</c> and <c>nonce</c> and signed in the <c>group</c> domain.
/// <list type="bullet">
/// <item><c>propose</c>: <c>founder</c>, <c>existing</c> (true: joining a running group).</item>
/// <item><c>accept</c>: <c>raft</c>, the host:port of the accepting node's group log.</item>
/// <item><c>decline</c>: <c>reason</c>.</item>
/// <item><c>finalize</c>: <c>members</c>, each <c>{"id","raft"}</c>.</item>
/// <item><c>leave</c> (member to leader), <c>removed</c> (leader to member) and <c>query</c>: no other members.</item>
/// <item><c>roster</c>: <c>members</c> as in <c>finalize</c>, and <c>leaderId</c>.</item>
/// </list>
/// </summary>
/// <remarks>Thread-safe (stateless; the replay guard is).</remarks>
public static class GroupMessages
{
    public const string Type = "group";

    public static JsonObject Propose(GroupProposal proposal, ReplayGuard guard, NodeIdentity identity) =>
        Sign(new JsonObject { ["step"] = GroupStep.Propose, ["groupId"] = proposal.GroupId, ["founder"] = proposal.Founder, ["existing"] = proposal.Existing }, guard, identity);

    public static JsonObject Accept(string groupId, string raft, ReplayGuard guard, NodeIdentity identity) =>
        Sign(new JsonObject { ["step"] = GroupStep.Accept, ["groupId"] = groupId, ["raft"] = raft }, guard, identity);

    public static JsonObject Decline(string groupId, string reason, ReplayGuard guard, NodeIdentity identity) =>
        Sign(new JsonObject { ["step"] = GroupStep.Decline, ["groupId"] = groupId, ["reason"] = reason }, guard, identity);

    public static JsonObject Finalize(GroupState state, ReplayGuard guard, NodeIdentity identity) =>
        Sign(new JsonObject
        {
            ["step"] = GroupStep.Finalize,
            ["groupId"] = state.GroupId,
            ["members"] = Members(state),
        }, guard, identity);

    private static JsonArray Members(GroupState state) =>
        new([.. state.Members.Select(m => (JsonNode)new JsonObject { ["id"] = m.Id, ["raft"] = m.Raft })]);

    public static JsonObject Leave(string groupId, ReplayGuard guard, NodeIdentity identity) =>
        Sign(new JsonObject { ["step"] = GroupStep.Leave, ["groupId"] = groupId }, guard, identity);

    public static JsonObject Removed(string groupId, ReplayGuard guard, NodeIdentity identity) =>
        Sign(new JsonObject { ["step"] = GroupStep.Removed, ["groupId"] = groupId }, guard, identity);

    public static JsonObject Query(string groupId, ReplayGuard guard, NodeIdentity identity) =>
        Sign(new JsonObject { ["step"] = GroupStep.Query, ["groupId"] = groupId }, guard, identity);

    public static JsonObject Roster(GroupState state, string leaderId, ReplayGuard guard, NodeIdentity identity) =>
        Sign(new JsonObject { ["step"] = GroupStep.Roster, ["groupId"] = state.GroupId, ["members"] = Members(state), ["leaderId"] = leaderId }, guard, identity);

    /// <summary>A message about split work (its <c>step</c> and members already set), stamped and signed like the others.</summary>
    public static JsonObject Work(JsonObject message, ReplayGuard guard, NodeIdentity identity) => Sign(message, guard, identity);

    /// <summary>The message's text member <paramref name="name"/>, or null.</summary>
    public static string? Text(JsonObject message, string name) =>
        message[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    /// <summary>The members of a finalize or roster message; null when malformed.</summary>
    public static GroupState? FinalizedState(JsonObject message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (Text(message, "groupId") is not { } groupId || message["members"] is not JsonArray members)
        {
            return null;
        }

        var list = new List<GroupMember>();
        foreach (var member in members)
        {
            if (member is not JsonObject m || Text(m, "id") is not { } id || Text(m, "raft") is not { } raft || !System.Net.IPEndPoint.TryParse(raft, out _))
            {
                return null;
            }

            list.Add(new GroupMember(id, raft));
        }

        return list.Count is > 0 and <= Formation.MaxMembers ? new GroupState(groupId, list) : null;
    }

    private static JsonObject Sign(JsonObject message, ReplayGuard guard, NodeIdentity identity)
    {
        ArgumentNullException.ThrowIfNull(guard);
        message["type"] = Type;
        return guard.StampAndSign(message, SignatureDomain.Group, identity);
    }
}
