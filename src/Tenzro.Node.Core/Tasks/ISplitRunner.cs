using System.Text.Json.Nodes;

namespace Tenzro.Node.Core.Tasks;

/// <summary>
/// Runs a task that asks to be split (CONTRACTS "Split tasks") across this node's aggregation group. The host sets it
/// with <see cref="TaskEngine.UseSplitRunner"/>; without it, or while <see cref="CanSplit"/> is false, such a task
/// runs whole.
/// </summary>
/// <remarks>Implementations are thread-safe.</remarks>
public interface ISplitRunner
{
    /// <summary>Whether this node is in a group that can take <paramref name="task"/>'s parts now.</summary>
    bool CanSplit(TaskSpec task);

    /// <summary>
    /// Whether <paramref name="task"/> waits in the queue rather than start now: the node is rejoining the group it was
    /// in, whose log may already hold the task's job (a parent whose home restarted mid-job).
    /// </summary>
    bool Defers(TaskSpec task);

    /// <summary>
    /// Splits the task, has the group run its parts and returns the combined result. The parent reserves nothing on
    /// this node; each part reserves its share on the member that runs it.
    /// </summary>
    Task<JsonObject> RunAsync(TaskExecutionContext context);

    /// <summary>
    /// The <c>split</c> and <c>parts</c> members of <paramref name="record"/>'s status (null when the task does not ask
    /// to be split, or its split is not decided yet).
    /// </summary>
    JsonObject? Describe(TaskRecord record);
}
