namespace Tenzro.Node.Core.Aggregation;

/// <summary>What a member reports about its run of a part.</summary>
public sealed record PartReport(bool Succeeded, string? Digest, string? Result, long? DurationMs, string? Error);

/// <summary>
/// The leader's decisions on split jobs, as pure functions of the replicated <see cref="GroupState"/>: adding and
/// removing jobs, recording members' reports, and each planning round (leases expired and renewed, parts assigned).
/// Because every decision is in the group log, a new leader goes on from where the old one stopped.
/// </summary>
/// <remarks>
/// Assignment is by pull: a member holds at most its slots (from its free cores) of running parts plus
/// <see cref="Ahead"/> part queued behind them, so that it starts its next part the moment one ends rather than a
/// planning round later; it gets a new part when one ends, the least loaded for its slots first, and every member's
/// slots are filled before any gets a part ahead. A member that falls behind so takes fewer parts (at most one more
/// than it can run). "Least loaded" weighs a member's parts by its speed (the benchmarked operations a second of its
/// free cores, <c>free.cpuOpsPerSecond</c> of its record) when every live member reports one, else by its slots: of
/// two members with a free slot, the faster gets the part. The lease of every part a live member holds, running or queued ahead, is renewed; a part whose
/// member is gone keeps its run until the lease ends, then goes to another member.
/// </remarks>
public static class JobPlanner
{
    /// <summary>Failed runs after which a part, and so its job, fails (a failure that is the task's own repeats anywhere).</summary>
    public const int MaxFailures = 3;

    /// <summary>Parts a member holds beyond its slots: assigned ahead, they wait in its queue behind its running parts.</summary>
    public const int Ahead = 1;

    public static GroupState AddJob(GroupState state, SplitJob job)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(job);
        return state.Job(job.ParentId) is null ? state with { Jobs = [.. state.Jobs, job] } : state;
    }

    public static GroupState RemoveJob(GroupState state, string parentId)
    {
        ArgumentNullException.ThrowIfNull(state);
        return state.Job(parentId) is null ? state : state with { Jobs = [.. state.Jobs.Where(j => j.ParentId != parentId)] };
    }

    /// <summary>
    /// Records <paramref name="member"/>'s report on its latest run of part <paramref name="index"/>. A report for an
    /// expired run still counts while the part is unsettled (the work was done); one for a settled part is recorded,
    /// and a digest that differs from the winner's marks the member as disagreeing.
    /// </summary>
    public static GroupState Report(GroupState state, string parentId, int index, string member, PartReport report)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(report);
        if (state.Job(parentId) is not { } job || job.Parts.FirstOrDefault(p => p.Index == index) is not { } part)
        {
            return state;
        }

        var at = LastIndex(part.Runs, r => r.Member == member && r.State is RunState.Running or RunState.Expired);
        if (at < 0)
        {
            return state;
        }

        var run = part.Runs[at];
        var updated = report.Succeeded
            ? run with { State = RunState.Done, Digest = report.Digest, Result = report.Result, DurationMs = report.DurationMs }
            : run with { State = RunState.Failed, DurationMs = report.DurationMs, Error = report.Error };
        var runs = part.Runs.ToList();
        runs[at] = updated;
        var parts = job.Parts.Select(p => p.Index == index ? p with { Runs = runs } : p).ToList();
        return Replace(state, Disagreements(job with { Parts = parts }));
    }

    /// <summary>
    /// The home could not fetch the result of <paramref name="member"/>'s done run of a part for a lease: that run no
    /// longer counts (it becomes expired), so the part runs again.
    /// </summary>
    public static GroupState Lose(GroupState state, string parentId, int index, string member)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Job(parentId) is not { } job || job.Parts.FirstOrDefault(p => p.Index == index) is not { } part
            || !part.Runs.Any(r => r.Member == member && r.State == RunState.Done))
        {
            return state;
        }

        var runs = part.Runs.Select(r => r.Member == member && r.State == RunState.Done ? r with { State = RunState.Expired, Result = null } : r).ToList();
        return Replace(state, job with { Parts = [.. job.Parts.Select(p => p.Index == index ? p with { Runs = runs } : p)] });
    }

    /// <summary>
    /// One planning round at <paramref name="now"/>: runs of members not in <paramref name="slots"/> (the live
    /// members and how many parts each runs at once) expire when their lease ends; the leases of every run a live
    /// member holds (running, or queued ahead behind its running parts) are renewed when half gone; each unsettled part
    /// gets runs until it has its redundancy done or running (or one running when the done runs disagree), a member
    /// holding at most its slots plus <see cref="Ahead"/>. <paramref name="speeds"/> (operations a second of each live
    /// member's free cores) weigh the members when every one of them has a speed above 0; otherwise their slots do.
    /// Returns <paramref name="state"/> itself when nothing changed.
    /// </summary>
    public static GroupState Plan(
        GroupState state, DateTimeOffset now, TimeSpan lease, IReadOnlyDictionary<string, int> slots, IReadOnlyDictionary<string, long>? speeds = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(slots);
        var weights = Weights(slots, speeds);
        var changed = false;
        var load = slots.Keys.ToDictionary(k => k, _ => 0, StringComparer.Ordinal);
        var jobs = new List<SplitJob>();
        foreach (var job in state.Jobs)
        {
            var parts = new List<SplitPart>();
            foreach (var part in job.Parts)
            {
                var runs = new List<PartRun>();
                foreach (var run in part.Runs)
                {
                    var next = run;
                    if (run.State == RunState.Running)
                    {
                        if (!slots.ContainsKey(run.Member) && now >= run.LeaseUntil)
                        {
                            next = run with { State = RunState.Expired };
                        }
                        else if (slots.ContainsKey(run.Member) && run.LeaseUntil - now < lease / 2)
                        {
                            next = run with { LeaseUntil = now + lease };
                        }
                    }

                    changed |= !ReferenceEquals(next, run);
                    if (next.State == RunState.Running && load.TryGetValue(next.Member, out var held))
                    {
                        load[next.Member] = held + 1;
                    }

                    runs.Add(next);
                }

                parts.Add(part with { Runs = runs });
            }

            jobs.Add(job with { Parts = parts });
        }

        for (var j = 0; j < jobs.Count; j++)
        {
            var job = jobs[j];
            var parts = job.Parts.ToList();
            for (var p = 0; p < parts.Count; p++)
            {
                var part = parts[p];

                // New runs are running ones, which settle nothing: a part's winner stays what it is through this loop.
                var settled = job.Winner(part) is not null;
                while (job.Failure(part) is null && (settled ? Unverified(job, part) : Wants(job, part))
                    && Pick(job, part, load, slots, weights, untriedOnly: settled) is { } member)
                {
                    load[member]++;
                    part = part with { Runs = [.. part.Runs, new PartRun(member, RunState.Running, now + lease)] };
                    changed = true;
                }

                parts[p] = part;
            }

            jobs[j] = job with { Parts = parts };
        }

        return changed ? state with { Jobs = jobs } : state;
    }

    /// <summary>Whether a part needs another run: fewer than its redundancy done or running, or none running and no winner.</summary>
    private static bool Wants(SplitJob job, SplitPart part)
    {
        var active = part.Runs.Count(r => r.State == RunState.Running);
        var done = part.Runs.Count(r => r.State == RunState.Done);
        return done + active < job.Redundancy || active == 0;
    }

    /// <summary>
    /// Whether a settled part still has fewer than its redundancy of runs done or running. Its other copies still run
    /// (on members that have not tried it), so that a member whose digest differs is outvoted and marked even when the
    /// majority agreed before its copy was assigned: every part runs on n distinct members, as the redundancy asks.
    /// </summary>
    public static bool Unverified(SplitJob job, SplitPart part)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(part);
        return part.Runs.Count(r => r.State is RunState.Running or RunState.Done) < job.Redundancy;
    }

    /// <summary>
    /// The member for a new run of <paramref name="part"/>: live, holding fewer than its slots plus <see cref="Ahead"/>,
    /// not running or having run it already (runs on distinct members for redundancy; a member whose run failed or
    /// expired only when no other can), not marked as disagreeing; one with a free slot before any that would hold the
    /// part ahead; the least loaded for its weight (<see cref="Weights"/>), then the lowest id. With
    /// <paramref name="untriedOnly"/> (a copy of a settled part) only a member that has never run the part.
    /// </summary>
    private static string? Pick(
        SplitJob job, SplitPart part, Dictionary<string, int> load, IReadOnlyDictionary<string, int> slots, IReadOnlyDictionary<string, double> weights, bool untriedOnly)
    {
        var busy = part.Runs.Where(r => r.State is RunState.Running or RunState.Done).Select(r => r.Member).ToHashSet(StringComparer.Ordinal);
        var tried = part.Runs.Select(r => r.Member).ToHashSet(StringComparer.Ordinal);
        var open = slots.Keys
            .Where(m => !busy.Contains(m) && !job.Disagreed.Contains(m) && load[m] < slots[m] + Ahead && !(untriedOnly && tried.Contains(m)))
            .OrderBy(m => tried.Contains(m) ? 1 : 0)
            .ThenBy(m => load[m] < slots[m] ? 0 : 1)
            .ThenBy(m => (load[m] + 1.0) / weights[m])
            .ThenBy(m => m, StringComparer.Ordinal);
        return open.FirstOrDefault();
    }

    /// <summary>
    /// What a member's load is measured against: its speed when every live member has one above 0 (speeds of
    /// different kinds cannot be compared, so one member without a figure makes all fall back), else its slots.
    /// </summary>
    private static Dictionary<string, double> Weights(IReadOnlyDictionary<string, int> slots, IReadOnlyDictionary<string, long>? speeds)
    {
        var bySpeed = speeds is not null && slots.Keys.All(m => speeds.TryGetValue(m, out var ops) && ops > 0);
        return slots.ToDictionary(s => s.Key, s => bySpeed ? (double)speeds![s.Key] : Math.Max(s.Value, 1), StringComparer.Ordinal);
    }

    /// <summary>Marks the members whose done run of a settled part has another digest than the winner's.</summary>
    private static SplitJob Disagreements(SplitJob job)
    {
        var marked = job.Disagreed.ToHashSet(StringComparer.Ordinal);
        foreach (var part in job.Parts)
        {
            if (job.Winner(part) is not { } winner)
            {
                continue;
            }

            foreach (var run in part.Runs.Where(r => r.State == RunState.Done && r.Digest != winner.Digest))
            {
                marked.Add(run.Member);
            }
        }

        return marked.Count == job.Disagreed.Count ? job : job with { Disagreed = [.. marked.Order(StringComparer.Ordinal)] };
    }

    private static GroupState Replace(GroupState state, SplitJob job) =>
        state with { Jobs = [.. state.Jobs.Select(j => j.ParentId == job.ParentId ? job : j)] };

    private static int LastIndex(IReadOnlyList<PartRun> runs, Func<PartRun, bool> match)
    {
        for (var i = runs.Count - 1; i >= 0; i--)
        {
            if (match(runs[i]))
            {
                return i;
            }
        }

        return -1;
    }
}
