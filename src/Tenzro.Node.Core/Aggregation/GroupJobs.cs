namespace Tenzro.Node.Core.Aggregation;

/// <summary>The states of one run of a part on one member.</summary>
public static class RunState
{
    /// <summary>Assigned by the leader; the member runs it while its lease holds.</summary>
    public const string Running = "running";

    public const string Done = "done";

    public const string Failed = "failed";

    /// <summary>The lease ended before the member reported; the part goes to another member.</summary>
    public const string Expired = "expired";
}

/// <summary>One run of a part on one member, as the group log keeps it.</summary>
/// <param name="Member">The node id of the member that runs it.</param>
/// <param name="LeaseUntil">While the run is <see cref="RunState.Running"/>, when its lease ends (the leader renews it for a live member).</param>
/// <param name="Digest">The digest of the part's result (done).</param>
/// <param name="Result">The sha256 of the result's bytes, fetched from the member by <c>blob_get</c> (done).</param>
public sealed record PartRun(string Member, string State, DateTimeOffset LeaseUntil, string? Digest = null, string? Result = null, long? DurationMs = null, string? Error = null);

/// <summary>One part of a split task: its payload (the part's task body, by sha256 on the parent's home) and its runs.</summary>
public sealed record SplitPart(int Index, string Payload, IReadOnlyList<PartRun> Runs)
{
    public int Attempts => Runs.Count;
}

/// <summary>
/// A split task's job as the group log replicates it: which member runs which part, under which lease, and what each
/// reported. The leader alone changes it; every member reads it (its assignments, and as home its results).
/// </summary>
/// <param name="ParentId">The parent task's id; its parts are <c>&lt;ParentId&gt;.&lt;index&gt;</c>.</param>
/// <param name="Home">The member that received the parent, holds the payloads and combines the results.</param>
/// <param name="Owner">The parent's owner, carried by its parts.</param>
/// <param name="Disagreed">Members whose digest lost a majority vote (with redundancy of 2 or more).</param>
public sealed record SplitJob(string ParentId, string Home, string Type, string Owner, int Redundancy, IReadOnlyList<SplitPart> Parts, IReadOnlyList<string> Disagreed)
{
    /// <summary>How many agreeing digests settle a part: a majority of the redundancy.</summary>
    public int Needed => (Redundancy / 2) + 1;

    /// <summary>The run whose digest won the part (the first of them), or null while the part is unsettled.</summary>
    public PartRun? Winner(SplitPart part)
    {
        ArgumentNullException.ThrowIfNull(part);
        return part.Runs.Where(r => r.State == RunState.Done && r.Digest is not null)
            .GroupBy(r => r.Digest, StringComparer.Ordinal)
            .Where(g => g.Count() >= Math.Min(Needed, Redundancy))
            .Select(g => g.First())
            .FirstOrDefault();
    }

    /// <summary>
    /// The part's failure once it failed on <see cref="JobPlanner.MaxFailures"/> runs and has no winner; else null. A settled
    /// part never fails: the copies that run after its majority only check it.
    /// </summary>
    public string? Failure(SplitPart part) =>
        Winner(part) is null && part.Runs.Count(r => r.State == RunState.Failed) >= JobPlanner.MaxFailures ? part.Runs.Last(r => r.State == RunState.Failed).Error ?? "failed" : null;

    public bool Complete => Parts.All(p => Winner(p) is not null);

    public string? FailedWith => Parts.Select(p => Failure(p) is { } e ? $"part {ParentId}.{p.Index}: {e}" : null).FirstOrDefault(e => e is not null);

    public static string PartId(string parentId, int index) => $"{parentId}.{index}";
}
