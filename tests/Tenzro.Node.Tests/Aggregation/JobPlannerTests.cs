using Tenzro.Node.Core.Aggregation;

namespace Tenzro.Node.Tests.Aggregation;

/// <summary>The leader's decisions on split jobs: assignment by slots and one part ahead, leases, reports, majority and lost results.</summary>
public sealed class JobPlannerTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(10);
    private static readonly string Digest = new('a', 64);
    private static readonly string Other = new('b', 64);
    private static readonly string Result = new('c', 64);

    private static GroupState WithJob(int parts, int redundancy = 1) =>
        JobPlanner.AddJob(
            new GroupState("g", [new("m1", "127.0.0.1:1"), new("m2", "127.0.0.1:2"), new("m3", "127.0.0.1:3")]),
            new SplitJob("t", "m1", "process", "owner", redundancy, [.. Enumerable.Range(0, parts).Select(i => new SplitPart(i, new string((char)('0' + i), 64), []))], []));

    private static Dictionary<string, int> Slots(params (string Id, int Slots)[] members) => members.ToDictionary(m => m.Id, m => m.Slots);

    [Fact]
    public void Plan_GivesEachMemberItsSlotsAndOnePartAhead_AndLeavesTheRestQueued()
    {
        var state = JobPlanner.Plan(WithJob(9), Now, Lease, Slots(("m1", 1), ("m2", 2), ("m3", 1)));

        var parts = state.Job("t")!.Parts;
        var runs = parts.SelectMany(p => p.Runs).ToList();
        Assert.Equal(7, runs.Count);
        Assert.Equal([2, 3, 2], new[] { "m1", "m2", "m3" }.Select(m => runs.Count(r => r.Member == m)));
        Assert.All(runs, r => Assert.Equal(Now + Lease, r.LeaseUntil));
        Assert.Empty(parts[7].Runs);
        Assert.Empty(parts[8].Runs);
    }

    [Fact]
    public void Plan_FillsEveryMembersSlotsBeforeAnyMemberGetsAPartAhead()
    {
        var state = JobPlanner.Plan(WithJob(4), Now, Lease, Slots(("m1", 1), ("m2", 2), ("m3", 1)));

        // Four parts, four slots: one each on m1 and m3, two on m2, none ahead.
        var members = state.Job("t")!.Parts.Select(p => p.Runs.Single().Member).ToList();
        Assert.Equal([1, 2, 1], new[] { "m1", "m2", "m3" }.Select(m => members.Count(x => x == m)));
    }

    [Fact]
    public void Plan_GivesTheNextPartToTheMemberThatFinished()
    {
        var slots = Slots(("m1", 1), ("m2", 1), ("m3", 1));
        var state = JobPlanner.Plan(WithJob(7), Now, Lease, slots);
        Assert.Empty(state.Job("t")!.Parts[6].Runs);
        var onM2 = state.Job("t")!.Parts.First(p => p.Runs.Any(r => r.Member == "m2")).Index;
        state = JobPlanner.Report(state, "t", onM2, "m2", new PartReport(true, Digest, Result, 5, null));

        state = JobPlanner.Plan(state, Now, Lease, slots);

        Assert.Equal("m2", state.Job("t")!.Parts[6].Runs.Single().Member);
    }

    [Fact]
    public void APartAhead_StaysWithItsLiveMember_WhileAnotherMemberIsIdle()
    {
        var slots = Slots(("m1", 1), ("m2", 1));
        var state = JobPlanner.Plan(WithJob(3), Now, Lease, slots);
        var job = state.Job("t")!;
        Assert.Equal(["m1", "m2", "m1"], job.Parts.Select(p => p.Runs.Single().Member));
        state = JobPlanner.Report(state, "t", 1, "m2", new PartReport(true, Digest, Result, 5, null));

        // m2 is idle, m1 still runs part 0 with part 2 queued behind it: part 2 is not run twice.
        state = JobPlanner.Plan(state, Now + TimeSpan.FromSeconds(1), Lease, slots);

        Assert.Equal("m1", state.Job("t")!.Parts[2].Runs.Single().Member);
    }

    [Fact]
    public void APartAhead_KeepsItsLeaseWhileItWaits_AndGoesElsewhereWithTheRunningPartWhenItsMemberIsGone()
    {
        var slots = Slots(("m1", 1), ("m2", 1));
        var state = JobPlanner.Plan(WithJob(2), Now, Lease, Slots(("m1", 1)));
        Assert.All(state.Job("t")!.Parts, p => Assert.Equal("m1", p.Runs.Single().Member));

        // Part 0 runs for three leases while part 1 waits behind it: m1 is live, so neither lease ends.
        for (var at = Now; at <= Now + (3 * Lease); at += Lease / 4)
        {
            state = JobPlanner.Plan(state, at, Lease, slots);
        }

        Assert.All(state.Job("t")!.Parts, p => Assert.Equal(RunState.Running, p.Runs.Single().State));
        Assert.All(state.Job("t")!.Parts, p => Assert.True(p.Runs.Single().LeaseUntil > Now + (3 * Lease)));

        // m1 is gone: after the lease both the running part and the one queued ahead go to m2 (one to run, one ahead).
        var gone = Now + (3 * Lease);
        var last = state.Job("t")!.Parts.Max(p => p.Runs.Single().LeaseUntil);
        var early = JobPlanner.Plan(state, last - TimeSpan.FromMilliseconds(1), Lease, Slots(("m2", 1)));
        Assert.Same(state, early);
        state = JobPlanner.Plan(state, last, Lease, Slots(("m2", 1)));

        Assert.True(last - gone <= Lease);
        Assert.All(state.Job("t")!.Parts, p =>
        {
            Assert.Equal([RunState.Expired, RunState.Running], p.Runs.Select(r => r.State));
            Assert.Equal("m2", p.Runs[1].Member);
        });
    }

    [Fact]
    public void Redundancy_WithPartsAhead_RunsEachPartOnDistinctMembers()
    {
        var state = JobPlanner.Plan(WithJob(2, redundancy: 3), Now, Lease, Slots(("m1", 1), ("m2", 1), ("m3", 1)));

        Assert.All(state.Job("t")!.Parts, p => Assert.Equal(["m1", "m2", "m3"], p.Runs.Select(r => r.Member).Order()));
    }

    [Fact]
    public void Plan_ExpiresTheRunOfAGoneMemberAfterItsLease_ThenGivesThePartToAnother()
    {
        var state = JobPlanner.Plan(WithJob(1), Now, Lease, Slots(("m1", 1)));
        var alive = Slots(("m2", 1));

        var early = JobPlanner.Plan(state, Now + Lease - TimeSpan.FromSeconds(1), Lease, alive);
        var late = JobPlanner.Plan(state, Now + Lease, Lease, alive);

        Assert.Same(state, early);
        var runs = late.Job("t")!.Parts[0].Runs;
        Assert.Equal([RunState.Expired, RunState.Running], runs.Select(r => r.State));
        Assert.Equal("m2", runs[1].Member);
    }

    [Fact]
    public void Plan_RenewsTheLeaseOfALiveMember()
    {
        var slots = Slots(("m1", 1));
        var state = JobPlanner.Plan(WithJob(1), Now, Lease, slots);

        state = JobPlanner.Plan(state, Now + TimeSpan.FromSeconds(6), Lease, slots);

        Assert.Equal(Now + TimeSpan.FromSeconds(16), state.Job("t")!.Parts[0].Runs.Single().LeaseUntil);
    }

    [Fact]
    public void Redundancy3_RunsOnThreeMembers_MajorityWins_AndTheDissenterIsMarked()
    {
        var slots = Slots(("m1", 1), ("m2", 1), ("m3", 1));
        var state = JobPlanner.Plan(WithJob(1, redundancy: 3), Now, Lease, slots);
        Assert.Equal(["m1", "m2", "m3"], state.Job("t")!.Parts[0].Runs.Select(r => r.Member).Order());

        state = JobPlanner.Report(state, "t", 0, "m1", new PartReport(true, Digest, Result, 5, null));
        state = JobPlanner.Report(state, "t", 0, "m2", new PartReport(true, Other, Result, 5, null));
        Assert.Null(state.Job("t")!.Winner(state.Job("t")!.Parts[0]));
        state = JobPlanner.Report(state, "t", 0, "m3", new PartReport(true, Digest, Result, 5, null));

        var job = state.Job("t")!;
        Assert.Equal(Digest, job.Winner(job.Parts[0])!.Digest);
        Assert.Equal(["m2"], job.Disagreed);
        Assert.True(job.Complete);
    }

    [Fact]
    public void Redundancy3_MajorityBeforeTheThirdCopyWasGiven_TheThirdStillRunsOnAnotherMember_AndADissenterIsMarked()
    {
        // m3 is not live in the first round, so only two copies go out; they agree and settle the part.
        var state = JobPlanner.Plan(WithJob(1, redundancy: 3), Now, Lease, Slots(("m1", 1), ("m2", 1)));
        state = JobPlanner.Report(state, "t", 0, "m1", new PartReport(true, Digest, Result, 5, null));
        state = JobPlanner.Report(state, "t", 0, "m2", new PartReport(true, Digest, Result, 5, null));
        Assert.NotNull(state.Job("t")!.Winner(state.Job("t")!.Parts[0]));

        // Every part runs on three distinct members: the third copy goes to m3, whose other digest is outvoted.
        var slots = Slots(("m1", 1), ("m2", 1), ("m3", 1));
        state = JobPlanner.Plan(state, Now, Lease, slots);
        Assert.Equal(["m1", "m2", "m3"], state.Job("t")!.Parts[0].Runs.Select(r => r.Member));
        state = JobPlanner.Report(state, "t", 0, "m3", new PartReport(true, Other, Result, 5, null));

        var job = state.Job("t")!;
        Assert.Equal(["m3"], job.Disagreed);
        Assert.Equal(Digest, job.Winner(job.Parts[0])!.Digest);
        Assert.Same(state, JobPlanner.Plan(state, Now, Lease, slots));
    }

    [Fact]
    public void Redundancy3_ACopyThatFailsAfterTheMajority_NeitherFailsTheJobNorRunsAgainOnAMemberThatTriedIt()
    {
        var slots = Slots(("m1", 1), ("m2", 1), ("m3", 1));
        var state = JobPlanner.Plan(WithJob(1, redundancy: 3), Now, Lease, slots);
        state = JobPlanner.Report(state, "t", 0, "m1", new PartReport(true, Digest, Result, 5, null));
        state = JobPlanner.Report(state, "t", 0, "m2", new PartReport(true, Digest, Result, 5, null));

        state = JobPlanner.Report(state, "t", 0, "m3", new PartReport(false, null, null, 5, "bad input"));

        Assert.Null(state.Job("t")!.FailedWith);
        Assert.True(state.Job("t")!.Complete);
        Assert.Same(state, JobPlanner.Plan(state, Now, Lease, slots));
    }

    [Fact]
    public void ReportOfAnExpiredRun_CountsWhileThePartIsUnsettled()
    {
        var state = JobPlanner.Plan(WithJob(1), Now, Lease, Slots(("m1", 1)));
        state = JobPlanner.Plan(state, Now + Lease, Lease, Slots(("m2", 1)));

        state = JobPlanner.Report(state, "t", 0, "m1", new PartReport(true, Digest, Result, 5, null));

        var job = state.Job("t")!;
        Assert.Equal("m1", job.Winner(job.Parts[0])!.Member);
    }

    [Fact]
    public void ThreeFailures_FailTheJob()
    {
        var slots = Slots(("m1", 1), ("m2", 1), ("m3", 1));
        var state = WithJob(1);
        foreach (var member in new[] { "m1", "m2", "m3" })
        {
            state = JobPlanner.Plan(state, Now, Lease, slots);
            var running = state.Job("t")!.Parts[0].Runs[^1].Member;
            state = JobPlanner.Report(state, "t", 0, running, new PartReport(false, null, null, 5, "bad input"));
        }

        Assert.Contains("bad input", state.Job("t")!.FailedWith);
        Assert.Same(state, JobPlanner.Plan(state, Now, Lease, slots));
    }

    [Fact]
    public void LostResult_RunsThePartAgainElsewhere()
    {
        var state = JobPlanner.Plan(WithJob(1), Now, Lease, Slots(("m2", 1)));
        state = JobPlanner.Report(state, "t", 0, "m2", new PartReport(true, Digest, Result, 5, null));

        state = JobPlanner.Lose(state, "t", 0, "m2");
        state = JobPlanner.Plan(state, Now, Lease, Slots(("m1", 1), ("m3", 1)));

        var part = state.Job("t")!.Parts[0];
        Assert.Null(state.Job("t")!.Winner(part));
        Assert.Equal(RunState.Running, part.Runs[^1].State);
        Assert.NotEqual("m2", part.Runs[^1].Member);
    }

    [Fact]
    public void GroupStateJson_RoundTripsJobs()
    {
        var state = JobPlanner.Plan(WithJob(2, redundancy: 2), Now, Lease, Slots(("m1", 1), ("m2", 1)));
        state = JobPlanner.Report(state, "t", 0, "m1", new PartReport(true, Digest, Result, 5, null));

        var back = GroupStateJson.Decode(GroupStateJson.Encode(state));

        Assert.Equal(GroupStateJson.ToJson(state).ToJsonString(), GroupStateJson.ToJson(back).ToJsonString());
        Assert.Equal(2, back.Job("t")!.Parts.Count);
    }
}
