using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Core.Tasks;

/// <summary>
/// The runs' scratch directories under <c>DATA_DIR/scratch</c>: named at prestart (created by the runtime on first use),
/// deleted when the run leaves its slot, and the leftovers of a stopped process removed at the engine's start.
/// </summary>
public sealed class TaskScratch(string root) : ITaskPrestartHook, ITaskReleasedHook
{
    public string Root { get; } = root;

    /// <summary>
    /// Creates the root and removes what runs of an earlier process left (called once, at the engine's start): first the
    /// scratch images a killed process left mounted, then the directories.
    /// </summary>
    public void RemoveLeftovers()
    {
        Directory.CreateDirectory(Root);
        ScratchMounts.UnmountUnder(Root);
        foreach (var stale in Directory.EnumerateDirectories(Root))
        {
            TryDelete(stale);
        }
    }

    /// <summary>
    /// The task's scratch directory: named by the SHA-256 of its id, so that no id can name a path outside
    /// the scratch root and two ids never share a directory ("job:1" and "job_1" would, by a character swap).
    /// </summary>
    public string PathFor(string taskId) =>
        Path.Combine(Root, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(taskId))));

    public ValueTask PrestartAsync(TaskRun run, CancellationToken cancellationToken)
    {
        run.ScratchDirectory = PathFor(run.Task.TaskId);
        return ValueTask.CompletedTask;
    }

    public void Released(TaskRun run)
    {
        if (run.ScratchDirectory.Length > 0)
        {
            TryDelete(run.ScratchDirectory);
        }
    }

    /// <summary>Deletes a directory if it can; one that cannot be removed now is removed at the next start.</summary>
    internal static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>
/// Teaches the cost model how long a completed task ran and the memory it held, before its end is visible, so that a
/// caller who sees the end and submits again gets the new estimate.
/// </summary>
public sealed class CostRecordHook(Optimization.CostModel costs) : ITaskStoppedHook
{
    public void Stopped(TaskRun run, TaskEnd end)
    {
        if (end.State == TaskState.Completed)
        {
            costs.Record(end.Spec.TaskId, end.ActiveTime, run.MemoryPeak.Bytes);
        }
    }
}

/// <summary>Charges the CPU-seconds a task used to its requester's quota (QUOTA_CPU_SECONDS_PER_HOUR) once it has ended.</summary>
public sealed class QuotaChargeHook(RequesterQuotas quotas) : ITaskFinishedHook
{
    public ValueTask FinishedAsync(TaskEnd end)
    {
        if (end.CpuSeconds is { } used)
        {
            quotas.Charge(end.Spec.Requester, used);
        }

        return ValueTask.CompletedTask;
    }
}
