namespace Tenzro.Node.Core.Resources;

/// <summary>What the tasks that keep running may hold while the machine's user is active.</summary>
/// <param name="Amounts">The reservations of the tasks that are not paused add up to at most this; null: pause every task that can be paused.</param>
/// <param name="Reason">Why, shown on each task it pauses.</param>
public sealed record RunLimit(ResourceAmounts? Amounts, string Reason);

/// <summary>Pauses and resumes running tasks so that those still running fit a <see cref="RunLimit"/>. The task engine implements it.</summary>
/// <remarks>Thread-safe.</remarks>
public interface IRunningTaskLimiter
{
    /// <summary>
    /// Sets the limit (null lifts it and resumes every paused task), pauses or resumes running tasks to fit it, and starts
    /// queued tasks that fit what the ledger allows now. The limit stays in force for tasks that start or end later.
    /// </summary>
    void LimitRunning(RunLimit? limit);
}
