using System.Text.Json.Nodes;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Core.Tasks;

/// <summary>
/// One task as a caller sees it: the stored record merged with the live run (state, progress, reservation,
/// why it waits, whether it is paused), taken together under the engine's lock so that the parts agree.
/// Immutable: it is a picture of one moment.
/// </summary>
public sealed record TaskView
{
    /// <summary>The record, with the running state of a task that holds a run slot before its running state is written.</summary>
    public required TaskRecord Record { get; init; }

    /// <summary>Progress: live while running (the store is written at most once a second), else the stored figure.</summary>
    public double Progress { get; init; }

    public Reservation? Reservation { get; init; }

    /// <summary>Why a queued task is not running yet; null unless queued.</summary>
    public JsonObject? WaitingFor { get; init; }

    public bool Paused { get; init; }

    public string? PauseReason { get; init; }

    /// <summary>The duration and peak memory predicted when the task was queued; null when none could be made.</summary>
    public Optimization.TaskEstimate? Estimate { get; init; }

    public string TaskId => Record.TaskId;

    public TaskState State => Record.State;
}
