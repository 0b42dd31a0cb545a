using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Core.Tasks;

/// <summary>Pausing and resuming running tasks while the machine's user is active.</summary>
public sealed partial class TaskEngine
{
    /// <inheritdoc />
    public void LimitRunning(RunLimit? limit)
    {
        lock (_lock)
        {
            _runLimit = limit;
        }

        // Pump plans again under the lock, then starts what fits the ledger now.
        Pump();
    }

    /// <summary>True while the running task is paused.</summary>
    public bool IsPaused(string taskId)
    {
        lock (_lock)
        {
            return _running.TryGetValue(taskId, out var running) && running.Gate.IsPaused;
        }
    }

    /// <summary>Why the running task is paused, or null when it is not.</summary>
    public string? PauseReason(string taskId)
    {
        lock (_lock)
        {
            return _running.TryGetValue(taskId, out var running) ? running.PauseReason : null;
        }
    }

    /// <summary>The running tasks that are paused now, oldest pause first.</summary>
    public IReadOnlyList<PausedTask> PausedTasks()
    {
        lock (_lock)
        {
            return [.. _running.Values
                .Where(r => r.Gate.IsPaused)
                .OrderBy(r => r.PausedAt)
                .Select(r => new PausedTask(r.Entry.Spec.TaskId, r.PausedAt ?? _time.GetUtcNow(), r.PauseReason ?? string.Empty, r.Gate.IsHolding))];
        }
    }

    /// <summary>The pause gate of a running task, or null when it is not running.</summary>
    internal TaskPauseGate? PauseGateOf(string taskId)
    {
        lock (_lock)
        {
            return _running.TryGetValue(taskId, out var running) ? running.Gate : null;
        }
    }

    /// <summary>Pauses and resumes running tasks to fit <see cref="_runLimit"/>. Called under <see cref="_lock"/>.</summary>
    private PauseChanges RebalanceLocked()
    {
        if (_runLimit is null && !_running.Values.Any(r => r.Gate.IsPaused))
        {
            return PauseChanges.None;
        }

        var toPause = PausePlanner.TasksToPause(
            _running.Values.Select(r => new PauseCandidate(r.Entry.Spec.TaskId, r.Entry.Spec.Requirements, r.StartOrder, r.CanPause)),
            _runLimit);
        List<string> paused = [];
        List<string> resumed = [];
        foreach (var running in _running.Values)
        {
            var id = running.Entry.Spec.TaskId;
            if (toPause.Contains(id))
            {
                if (running.Pause(_runLimit!.Reason))
                {
                    paused.Add(id);
                }
            }
            else if (running.Resume())
            {
                resumed.Add(id);
            }
        }

        return new PauseChanges(paused, resumed);
    }

    /// <summary>Logs and publishes pause changes; called outside the lock.</summary>
    private void Report(PauseChanges changes)
    {
        foreach (var id in changes.Paused)
        {
            Log.TaskPaused(_logger, id, PauseReason(id) ?? string.Empty);
            Publish(id);
        }

        foreach (var id in changes.Resumed)
        {
            Log.TaskResumed(_logger, id);
            Publish(id);
        }

        void Publish(string taskId)
        {
            if (_store.Get(taskId) is { } record)
            {
                Events.Publish(record);
            }
        }
    }

    private sealed record PauseChanges(IReadOnlyList<string> Paused, IReadOnlyList<string> Resumed)
    {
        public static PauseChanges None { get; } = new([], []);
    }
}

/// <summary>A running task that is paused.</summary>
/// <param name="TaskId">The task.</param>
/// <param name="PausedAt">When it was paused.</param>
/// <param name="Reason">Why.</param>
/// <param name="Holding">True once its runtime has stopped at the gate (it uses no CPU).</param>
public sealed record PausedTask(string TaskId, DateTimeOffset PausedAt, string Reason, bool Holding);
