using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Aggregation;

namespace Tenzro.Node.Tests.Aggregation;

public sealed class GroupExclusionsTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    private static GroupState WithJob(params string[] disagreed) =>
        new GroupState("g1", [new GroupMember("a", "127.0.0.1:9001"), new GroupMember("b", "127.0.0.1:9002"), new GroupMember("c", "127.0.0.1:9003")])
        {
            Jobs = [new SplitJob("t1", "a", "compute", "api", 3, [], disagreed)],
        };

    [Fact]
    public void Misbehaved_ExcludesOnlyAtTheThirdInvalidMessageWithinAMinute()
    {
        var exclusions = new GroupExclusions(_time);

        Assert.Null(exclusions.Misbehaved("b", "bad_signature"));
        Assert.Null(exclusions.Misbehaved("b", "bad_signature"));
        Assert.False(exclusions.IsExcluded("b"));
        var excluded = exclusions.Misbehaved("b", "malformed");

        Assert.NotNull(excluded);
        Assert.Equal("malformed", excluded.Reason);
        Assert.Equal(_time.GetUtcNow() + GroupExclusions.Duration, excluded.Until);
        Assert.True(exclusions.IsExcluded("b"));
        Assert.False(exclusions.IsExcluded("c"));
    }

    [Fact]
    public void Misbehaved_StrikesOlderThanTheWindow_DoNotCount()
    {
        var exclusions = new GroupExclusions(_time);

        exclusions.Misbehaved("b", "stale");
        exclusions.Misbehaved("b", "stale");
        _time.Advance(GroupExclusions.StrikeWindow + TimeSpan.FromSeconds(1));

        Assert.Null(exclusions.Misbehaved("b", "stale"));
        Assert.False(exclusions.IsExcluded("b"));
    }

    [Fact]
    public void Exclusion_EndsAfterTheDocumentedTime()
    {
        var exclusions = new GroupExclusions(_time);
        exclusions.Outvote(WithJob("c"), "a");
        Assert.Equal(_time.GetUtcNow() + GroupExclusions.Duration, exclusions.Until("c"));

        _time.Advance(GroupExclusions.Duration - TimeSpan.FromSeconds(1));
        Assert.True(exclusions.IsExcluded("c"));
        _time.Advance(TimeSpan.FromSeconds(2));

        Assert.False(exclusions.IsExcluded("c"));
        Assert.Null(exclusions.Until("c"));
        Assert.Empty(exclusions.Active());
    }

    [Fact]
    public void Outvote_ExcludesEachDissenterOncePerJob_NeverThisNode()
    {
        var exclusions = new GroupExclusions(_time);

        var first = exclusions.Outvote(WithJob("a", "c"), "a");
        var again = exclusions.Outvote(WithJob("a", "c"), "a");

        var only = Assert.Single(first);
        Assert.Equal(("c", GroupExclusions.Outvoted), (only.Id, only.Reason));
        Assert.Empty(again);
        Assert.False(exclusions.IsExcluded("a"));
        Assert.Equal(["c"], exclusions.Active().Select(e => e.Id));
    }
}
