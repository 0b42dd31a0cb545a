namespace Tenzro.Node.Core.Tasks;

/// <summary>A task as stored: its spec and where it stands. Immutable snapshot.</summary>
public sealed record TaskRecord
{
    public required TaskSpec Spec { get; init; }
    public required string ContentHash { get; init; }
    public TaskState State { get; init; } = TaskState.Queued;
    public int Attempts { get; init; }
    public double Progress { get; init; }
    public required DateTimeOffset SubmittedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public string? Error { get; init; }

    /// <summary>The result object as JSON text, for a completed task.</summary>
    public string? Result { get; init; }

    public string? Digest { get; init; }

    /// <summary>Insertion order; FIFO within a priority.</summary>
    public long Sequence { get; init; }

    public string TaskId => Spec.TaskId;
}

/// <summary>A page of <see cref="TaskRecord"/>s and the cursor of the next page.</summary>
public sealed record TaskPage(IReadOnlyList<TaskRecord> Items, string? NextCursor)
{
    /// <summary>The page of <paramref name="fetched"/>, newest first and read one past <paramref name="limit"/> to learn whether another page follows.</summary>
    public static TaskPage Of(List<TaskRecord> fetched, int limit)
    {
        string? next = null;
        if (fetched.Count > limit)
        {
            fetched.RemoveAt(fetched.Count - 1);
            next = fetched[^1].Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return new TaskPage(fetched, next);
    }
}

/// <summary>Counts by state for <c>/status</c>.</summary>
public sealed record TaskCounts(long Queued, long Running, long Completed, long Failed, long Cancelled, long TimedOut);
