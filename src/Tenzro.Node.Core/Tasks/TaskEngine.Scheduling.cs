using System.Text;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Core.Tasks;

/// <summary>Scheduling: which queued task starts next (priority, backfill, the task next in line) and why a queued one waits.</summary>
public sealed partial class TaskEngine
{
    /// <summary>Why a queued task is not running yet; null when it is not queued.</summary>
    public JsonObject? WaitingReason(string taskId)
    {
        lock (_lock)
        {
            if (!_queued.TryGetValue(taskId, out var entry))
            {
                return null;
            }

            if (_intake.Draining)
            {
                return new JsonObject { ["reason"] = "draining", ["detail"] = "the node is draining: it finishes running tasks and starts no new ones until resumed" };
            }

            if (_intake.UserActive is not null)
            {
                return new JsonObject { ["reason"] = "user_active", ["detail"] = "waiting for the machine's user to be idle (RUN_ONLY_WHEN_IDLE)" };
            }

            var position = PositionOf(entry);
            if (_splitRunner?.Defers(entry.Spec) == true)
            {
                return new JsonObject { ["reason"] = "group", ["position"] = position, ["detail"] = "waiting for this node to rejoin its aggregation group, which may already run this task's parts" };
            }

            var request = Splits(entry.Spec) ? ResourceAmounts.None : entry.Spec.Requirements;
            var shortfall = _ledger.Free.Shortfalls(request).FirstOrDefault();
            if (shortfall.Resource is not null)
            {
                var limited = _runLimit is not null && _ledger.Allowed != _ledger.Maximum;
                return new JsonObject
                {
                    ["reason"] = "resources",
                    ["resource"] = shortfall.Resource,
                    ["asked"] = shortfall.Asked,
                    ["free"] = shortfall.Available,
                    ["position"] = position,
                    ["limits"] = limited ? "active" : "idle",
                    ["detail"] = $"waiting for {shortfall.Resource}: asks {shortfall.Asked}, {shortfall.Available} free"
                        + (limited ? " under the active limits (the machine's user is active)" : ""),
                };
            }

            if (_holdFor is not null && _holdFor != taskId && !_ledger.Free.Minus(_held).Fits(request))
            {
                return new JsonObject
                {
                    ["reason"] = "next_in_line",
                    ["task"] = _holdFor,
                    ["position"] = position,
                    ["detail"] = $"the resources being freed are held for task '{_holdFor}', which waits ahead of this one",
                };
            }

            var slots = _slots.Current;
            if (Unheld(entry.Spec) && UnheldRunning() is var unheld && unheld >= _slots.UnheldCurrent)
            {
                return new JsonObject
                {
                    ["reason"] = "concurrency",
                    ["position"] = position,
                    ["running"] = unheld,
                    ["detail"] = $"{unheld} tasks of a fraction of a core that this node cannot hold to it are running, as many as MAX_CONCURRENT_TASKS ({slots}{(_slots.IsAuto ? ", auto" : "")}) lets run at once ({_slots.UnheldCurrent}); position {position} in the queue",
                };
            }

            if (_running.Count >= slots)
            {
                return new JsonObject
                {
                    ["reason"] = "concurrency",
                    ["position"] = position,
                    ["running"] = _running.Count,
                    ["detail"] = $"MAX_CONCURRENT_TASKS ({slots}{(_slots.IsAuto ? ", auto" : "")}) tasks are running; position {position} in the queue",
                };
            }

            return new JsonObject { ["reason"] = "queue", ["position"] = position, ["detail"] = $"position {position} in the queue" };
        }
    }

    /// <summary>Starts whatever can start now. Called after every change that could free a slot.</summary>
    public void Pump()
    {
        List<RunningTask> started = [];
        PauseChanges changes;
        lock (_lock)
        {
            if (_stopping)
            {
                return;
            }

            // Pausing first: a task paused now keeps its reservation, so nothing below starts in its place.
            changes = RebalanceLocked();
            var startNothing = _intake.Draining || _intake.UserActive is not null;

            // Highest priority first; a task that does not fit lets a smaller one behind it run (backfill),
            // but only from what is free beyond the resources freed for it since it began to wait, so that
            // it is next in line. The scan stops at the free slots and looks at most BackfillWindow entries
            // deep, so a long queue costs nothing per submission while the slots are full.
            var scanned = 0;
            List<QueueEntry> toStart = [];
            string? head = null;
            var scannedAll = true;
            DateTimeOffset? headFitsAt = null;
            // A split parent only waits for its parts (which may be queued here): it holds no run slot.
            var slots = _slots.Current;
            var holding = _running.Values.Count(r => !r.Split);
            var unheldSlots = _slots.UnheldCurrent;
            var unheldHolding = UnheldRunning();
            foreach (var entry in startNothing ? [] : _queue)
            {
                if (_splitRunner?.Defers(entry.Spec) == true)
                {
                    continue;
                }

                if (_running.ContainsKey(entry.Spec.TaskId))
                {
                    // A run of the same id that started before its submission was stored, and will be dropped when the
                    // submission finds this one's row: this one starts once that run has left its slot.
                    continue;
                }

                var split = Splits(entry.Spec);
                var slotsFull = holding >= slots && !split;
                if ((slotsFull && head is not null) || ++scanned > BackfillWindow)
                {
                    scannedAll = false;
                    break;
                }

                var request = split ? ResourceAmounts.None : entry.Spec.Requirements;
                if (slotsFull)
                {
                    // Nothing can start; only find the task next in line, so that what the next task to end
                    // gives back is held for it.
                    if (!_ledger.Free.Fits(request) && _ledger.Allowed.Fits(request))
                    {
                        head = HoldFor(entry.Spec.TaskId, request);
                    }

                    continue;
                }

                if (head is not null && !_ledger.Free.Minus(_held).Fits(request) && !EndsBeforeHeadFits(entry.Spec, ref headFitsAt))
                {
                    continue;
                }

                var unheld = !split && Unheld(entry.Spec);
                if (unheld && unheldHolding >= unheldSlots)
                {
                    // Its slots for tasks that could use a whole core are full: a held or a whole-core task behind it may start.
                    continue;
                }

                if (_ledger.TryReserve(entry.Spec.TaskId, request, out _))
                {
                    toStart.Add(entry);
                    holding += split ? 0 : 1;
                    unheldHolding += unheld ? 1 : 0;
                }
                else if (head is null && _ledger.Allowed.Fits(request))
                {
                    // Only a task that can run under the limits in force now is held for: one that needs the
                    // idle limits while the user is active must not stop everything else meanwhile.
                    head = HoldFor(entry.Spec.TaskId, request);
                }
            }

            foreach (var entry in toStart)
            {
                Dequeue(entry);
                _queued.Remove(entry.Spec.TaskId);
                _queuedBytes -= entry.PayloadBytes;
                var split = Splits(entry.Spec);
                var running = new RunningTask(entry, new CancellationTokenSource(), _time, !split && _runtimes[entry.Spec.Type].SupportsPause, ++_startOrder) { Split = split };
                _running[entry.Spec.TaskId] = running;
                started.Add(running);
            }

            // The hold ends when nothing waits for resources any more (a whole scan found no head; a scan cut
            // short by full slots or the window says nothing about it), or when the task held for started, was
            // cancelled or left the queue.
            if ((head is null && scannedAll && !startNothing) || (_holdFor is not null && !_queued.ContainsKey(_holdFor)))
            {
                _holdFor = null;
                _held = ResourceAmounts.None;
            }
        }

        Report(changes);

        foreach (var running in started)
        {
            _ = Task.Run(() => RunAsync(running));
        }
    }

    /// <summary>
    /// Whether <paramref name="task"/> reserves a fraction of a core and its runtime cannot hold it to that fraction
    /// (<see cref="ITaskRuntime.HoldsCpuFraction"/>): it may use a whole core, so it counts against the run slots of such
    /// tasks (<see cref="Optimization.RunSlots.UnheldCurrent"/>).
    /// </summary>
    private bool Unheld(TaskSpec task) =>
        task.Requirements.Cpu < 1 && !(_runtimes.TryGetValue(task.Type, out var runtime) && runtime.HoldsCpuFraction);

    /// <summary>The running tasks that <see cref="Unheld"/> says could each use a whole core; call under the lock.</summary>
    private int UnheldRunning() => _running.Values.Count(r => !r.Split && Unheld(r.Entry.Spec));

    /// <summary>
    /// Whether <paramref name="task"/> may use what is held for the task next in line because it is expected to end
    /// before the running tasks give that task all it asks (backfill by estimates, as EASY backfilling does with run
    /// time limits): its timeout, or its estimate × <see cref="BackfillMargin"/> when it has one, ends by then. Call
    /// under the lock, with <paramref name="headFitsAt"/> null the first time in a scan (it is computed once).
    /// </summary>
    private bool EndsBeforeHeadFits(TaskSpec task, ref DateTimeOffset? headFitsAt)
    {
        var now = _time.GetUtcNow();
        headFitsAt ??= HeadFitsAt(now);
        var runFor = _costs?.EstimateOf(task.TaskId) is { } estimate
            ? TimeSpan.FromMilliseconds(Math.Min(estimate.DurationMs * BackfillMargin, task.Timeout.TotalMilliseconds))
            : task.Timeout;
        return now + runFor <= headFitsAt.Value;
    }

    /// <summary>
    /// When the task next in line is expected to fit: the running tasks are taken in the order they are expected to
    /// end, and their reservations added to what is free, until it asks no more. Now when it never would (nothing
    /// may then start on the strength of an estimate).
    /// </summary>
    private DateTimeOffset HeadFitsAt(DateTimeOffset now)
    {
        var available = _ledger.Free;
        foreach (var (running, end) in _running.Values.Where(r => !r.Split).Select(r => (r, ExpectedEnd(r, now))).OrderBy(r => r.Item2))
        {
            available = available.Plus(running.Entry.Spec.Requirements);
            if (available.Fits(_holdRequest))
            {
                return end;
            }
        }

        return now;
    }

    /// <summary>
    /// When a running task is expected to end: its start plus its estimate × <see cref="BackfillMargin"/> (and the
    /// time it spent paused), unless that has passed or there is no estimate; then its deadline, which it cannot pass
    /// (less any pause to come).
    /// </summary>
    private DateTimeOffset ExpectedEnd(RunningTask running, DateTimeOffset now)
    {
        var paused = running.Gate.PausedTime;
        var deadline = running.PickedAt + paused + running.Entry.Spec.Timeout;
        if (_costs?.EstimateOf(running.Entry.Spec.TaskId) is { } estimate)
        {
            var expected = running.PickedAt + paused + TimeSpan.FromMilliseconds(estimate.DurationMs * BackfillMargin);
            if (expected > now && expected < deadline)
            {
                return expected;
            }
        }

        return deadline;
    }

    /// <summary>How much longer than its estimate a task is expected to run at most, for backfill (as the refusal's margin).</summary>
    public const double BackfillMargin = Optimization.CostModel.RefusalMargin;

    /// <summary>Makes <paramref name="taskId"/> the task next in line (keeping what is held when it already is); returns it. Call under the lock.</summary>
    private string HoldFor(string taskId, ResourceAmounts request)
    {
        if (_holdFor != taskId)
        {
            _holdFor = taskId;
            _holdRequest = request;
            _held = ResourceAmounts.None;
        }

        return taskId;
    }

    /// <summary>Whether the group takes <paramref name="task"/> now: it asks to be split and the node is in a group that can.</summary>
    private bool Splits(TaskSpec task) => Aggregation.Split.SplitRequest.Requested(task) && _splitRunner?.CanSplit(task) == true;
}
