using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Core.Tasks;

/// <summary>One running task as the planner sees it.</summary>
/// <param name="TaskId">The task.</param>
/// <param name="Amounts">Its reservation.</param>
/// <param name="StartOrder">Increases with each start: a larger number started later.</param>
/// <param name="CanPause">Whether its runtime honours the pause gate; a task that cannot pause always counts as running.</param>
public readonly record struct PauseCandidate(string TaskId, ResourceAmounts Amounts, long StartOrder, bool CanPause);

/// <summary>
/// Chooses which running tasks to pause under a <see cref="RunLimit"/>. Tasks that cannot pause count first. Then the
/// pausable tasks are taken in the order they started, oldest first: one whose reservation fits in what the limit leaves
/// keeps running, one that does not is paused. So the newest tasks are paused first, and a smaller task may keep running
/// after a larger, older one was paused (as backfill lets a small task start ahead of a large one).
/// </summary>
/// <remarks>A pure function: the same tasks and limit always give the same plan, so repeated planning never flaps.</remarks>
public static class PausePlanner
{
    /// <summary>The ids of the tasks to pause; every other task runs. Empty when <paramref name="limit"/> is null.</summary>
    public static IReadOnlySet<string> TasksToPause(IEnumerable<PauseCandidate> running, RunLimit? limit)
    {
        ArgumentNullException.ThrowIfNull(running);
        var paused = new HashSet<string>(StringComparer.Ordinal);
        if (limit is null)
        {
            return paused;
        }

        var tasks = running.ToList();
        var kept = tasks.Where(t => !t.CanPause).Aggregate(new ResourceAmounts(0, 0, 0, 0, 0), (sum, t) => sum.Plus(t.Amounts));
        foreach (var task in tasks.Where(t => t.CanPause).OrderBy(t => t.StartOrder))
        {
            if (limit.Amounts is { } cap && cap.Minus(kept).Fits(task.Amounts))
            {
                kept = kept.Plus(task.Amounts);
            }
            else
            {
                paused.Add(task.TaskId);
            }
        }

        return paused;
    }
}
