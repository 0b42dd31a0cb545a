using Tenzro.Node.Core.Aggregation;

namespace Tenzro.Node.Tests.Aggregation;

public sealed class MembershipTests
{
    private static readonly GroupMember A = new("a", "127.0.0.1:9001");
    private static readonly GroupMember B = new("b", "127.0.0.1:9002");
    private static readonly GroupMember C = new("c", "127.0.0.1:9003");
    private static readonly GroupState Known = new("g1", [A, B, C]);

    [Fact]
    public void Removed_MemberAnswersWithCommittedMembersWithoutThisNode_IsRemoved()
    {
        Assert.True(Membership.Removed(Known, "c", "b", new GroupState("g1", [A, B]), "a"));
    }

    [Fact]
    public void Removed_AnswerStillListsThisNode_IsNotRemoved()
    {
        Assert.False(Membership.Removed(Known, "c", "b", Known, "a"));
    }

    [Fact]
    public void Removed_AnswerFromAnotherGroupOrAStranger_IsIgnored()
    {
        Assert.False(Membership.Removed(Known, "c", "b", new GroupState("g2", [A, B]), "a"));
        Assert.False(Membership.Removed(Known, "c", "x", new GroupState("g1", [A, B, new GroupMember("x", "127.0.0.1:9004")]), "a"));
    }

    [Fact]
    public void Removed_AnsweringMemberWithoutALeaderInTheGroup_IsIgnored()
    {
        // A member that follows no leader, or a leader outside the members it reports, has no committed view to trust.
        Assert.False(Membership.Removed(Known, "c", "b", new GroupState("g1", [A, B]), null));
        Assert.False(Membership.Removed(Known, "c", "b", new GroupState("g1", [A, B]), "c"));
        Assert.False(Membership.Removed(Known, "c", "b", new GroupState("g1", [B]), "a"));
    }

    [Fact]
    public void QueryAfter_IsThreeElectionTimeouts()
    {
        Assert.Equal(TimeSpan.FromSeconds(3), Membership.QueryAfter(TimeSpan.FromSeconds(1)));
    }
}
