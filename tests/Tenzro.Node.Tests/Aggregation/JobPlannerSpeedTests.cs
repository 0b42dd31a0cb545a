using Tenzro.Node.Core.Aggregation;

namespace Tenzro.Node.Tests.Aggregation;

/// <summary>
/// The leader weighs members by the speed their records announce (<c>free.cpuOpsPerSecond</c>) when every live member
/// announces one: m1 has 4 free cores at 1e9 operations a second each, m2 2 free cores at 4e9 each.
/// </summary>
public sealed class JobPlannerSpeedTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(10);
    private static readonly Dictionary<string, int> Slots = new() { ["m1"] = 4, ["m2"] = 2 };

    private static GroupState WithJob(int parts) =>
        JobPlanner.AddJob(
            new GroupState("g", [new("m1", "127.0.0.1:1"), new("m2", "127.0.0.1:2")]),
            new SplitJob("t", "m1", "process", "owner", 1, [.. Enumerable.Range(0, parts).Select(i => new SplitPart(i, new string((char)('0' + i), 64), []))], []));

    private static string[] Assigned(GroupState state) => [.. state.Job("t")!.Parts.Select(p => p.Runs.Single().Member)];

    [Fact]
    public void Plan_EveryMemberReportsItsSpeed_TheFasterMemberGetsMoreOfTheParts()
    {
        var state = JobPlanner.Plan(WithJob(3), Now, Lease, Slots, new Dictionary<string, long> { ["m1"] = 4_000_000_000, ["m2"] = 8_000_000_000 });

        // m2 does twice the work a second: it gets the first part and, at equal load for its speed, the third.
        Assert.Equal(["m2", "m1", "m2"], Assigned(state));
    }

    [Fact]
    public void Plan_NoSpeeds_WeighsByFreeCores()
    {
        var state = JobPlanner.Plan(WithJob(3), Now, Lease, Slots);

        Assert.Equal(["m1", "m1", "m2"], Assigned(state));
    }

    [Fact]
    public void Plan_OneMemberWithoutASpeed_AllFallBackToFreeCores()
    {
        var state = JobPlanner.Plan(WithJob(3), Now, Lease, Slots, new Dictionary<string, long> { ["m2"] = 8_000_000_000 });
        var zero = JobPlanner.Plan(WithJob(3), Now, Lease, Slots, new Dictionary<string, long> { ["m1"] = 0, ["m2"] = 8_000_000_000 });

        Assert.Equal(["m1", "m1", "m2"], Assigned(state));
        Assert.Equal(["m1", "m1", "m2"], Assigned(zero));
    }

    [Fact]
    public void Plan_BySpeed_StillFillsTheSlowerMembersSlotsBeforeTheFasterGetsAPartAhead()
    {
        var speeds = new Dictionary<string, long> { ["m1"] = 4_000_000_000, ["m2"] = 8_000_000_000 };

        var six = Assigned(JobPlanner.Plan(WithJob(6), Now, Lease, Slots, speeds));
        var eight = Assigned(JobPlanner.Plan(WithJob(8), Now, Lease, Slots, speeds));

        Assert.Equal([4, 2], new[] { "m1", "m2" }.Select(m => six.Count(x => x == m)));
        Assert.Equal([5, 3], new[] { "m1", "m2" }.Select(m => eight.Count(x => x == m)));
        Assert.Equal("m2", eight[6]); // the first part ahead goes to the faster member
    }
}
