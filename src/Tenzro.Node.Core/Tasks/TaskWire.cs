using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Core.Tasks;

/// <summary>
/// A task's status as <c>GET /api/tasks/{id}</c>, the task list and the event stream answer it (CONTRACTS.md
/// "Task status"). Every member is written, null or not, in this order; a split task's <c>split</c> and
/// <c>parts</c> (CONTRACTS "Split tasks") follow.
/// </summary>
public sealed record TaskStatusBody
{
    public required string TaskId { get; init; }
    public required string Type { get; init; }
    public required string Priority { get; init; }
    public required string State { get; init; }
    public double Progress { get; init; }
    public int Attempts { get; init; }
    public required string Origin { get; init; }
    public required string Owner { get; init; }
    public required string SubmittedAt { get; init; }
    public string? StartedAt { get; init; }
    public string? FinishedAt { get; init; }

    /// <summary>Seconds.</summary>
    public double Timeout { get; init; }

    public required ResourceAmounts Requirements { get; init; }
    public ResourceAmounts? Reservation { get; init; }
    public JsonObject? WaitingFor { get; init; }
    public TaskEstimateBody? Estimate { get; init; }
    public bool Paused { get; init; }
    public string? PauseReason { get; init; }
    public string? Error { get; init; }
    public string? ErrorKind { get; init; }

    /// <summary>A split task's <c>split</c>: applied or why not, the parts, the redundancy; left out for any other task.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonNode? Split { get; init; }

    /// <summary>A split task's <c>parts</c>, one status each; left out for any other task and before the parts exist.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonNode? Parts { get; init; }

    /// <summary>The status of <paramref name="view"/>, with <paramref name="split"/> (from <see cref="ISplitRunner.Describe"/>) when it is split.</summary>
    public static TaskStatusBody Of(TaskView view, JsonObject? split = null)
    {
        ArgumentNullException.ThrowIfNull(view);
        var record = view.Record;
        return new TaskStatusBody
        {
            TaskId = record.TaskId,
            Type = record.Spec.Type,
            Priority = record.Spec.Priority.ToWire(),
            State = record.State.ToWire(),
            Progress = view.Progress,
            Attempts = record.Attempts,
            Origin = record.Spec.Origin,
            Owner = record.Spec.Owner,
            SubmittedAt = Timestamps.FormatPrecise(record.SubmittedAt),
            StartedAt = record.StartedAt is { } started ? Timestamps.FormatPrecise(started) : null,
            FinishedAt = record.FinishedAt is { } finished ? Timestamps.FormatPrecise(finished) : null,
            Timeout = record.Spec.Timeout.TotalSeconds,
            Requirements = record.Spec.Requirements,
            Reservation = view.Reservation?.Amounts,
            WaitingFor = view.WaitingFor,
            Estimate = view.Estimate is { } estimate ? new TaskEstimateBody(estimate.DurationMs, estimate.MemoryMB, estimate.Basis) : null,
            Paused = view.Paused,
            PauseReason = view.PauseReason,
            Error = record.Error,
            ErrorKind = TaskErrorKinds.Of(record.Error),
            Split = split?["split"],
            Parts = split?["parts"],
        };
    }
}

/// <summary>The <c>estimate</c> member of a task's status: the predicted duration and peak memory, and what the prediction rests on.</summary>
public sealed record TaskEstimateBody(double DurationMs, long MemoryMB, string Basis);

/// <summary>The result of a final task (CONTRACTS.md "Task result"): <c>GET /api/tasks/{id}/result</c> and a submission's <c>?wait</c>.</summary>
public sealed record TaskResultBody(string TaskId, string State, JsonNode? Result, string? Digest, string? Error)
{
    public static TaskResultBody Of(TaskRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return new(record.TaskId, record.State.ToWire(), record.Result is null ? null : JsonNode.Parse(record.Result), record.Digest, record.Error);
    }
}

/// <summary>The 202 of <c>GET /api/tasks/{id}/result</c> while the task is not final.</summary>
public sealed record TaskPendingBody(string TaskId, string State, double Progress);

/// <summary>The answer to a submission (202 when taken, 200 for the existing task of a resubmission) and to a cancel (<c>status: cancelling</c>, no location).</summary>
public sealed record TaskSubmittedBody(string TaskId, string Status, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Location = null);

/// <summary><c>GET /api/tasks</c>: one page of statuses, newest first, and the cursor of the next page (null on the last).</summary>
public sealed record TaskListBody(IReadOnlyList<TaskStatusBody> Items, string? NextCursor);

/// <summary>A progress event of <c>GET /api/tasks/{id}/events</c>.</summary>
public sealed record TaskProgressEvent(string TaskId, double? Progress);
