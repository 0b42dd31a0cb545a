using System.Text;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Storage;

namespace Tenzro.Node.Core.Tasks;

/// <summary>The run: a task in its slot, from its start through its runtime to its final state, progress and running mark.</summary>
public sealed partial class TaskEngine
{
    private async Task RunAsync(RunningTask running)
    {
        var spec = running.Entry.Spec;
        var attempts = running.Entry.Attempts + 1;
        var startedAt = running.PickedAt;
        TaskRun? run = null;

        // The span stays here rather than in a hook: it must be the ambient Activity.Current of the runtime's own
        // spans and logs, and an awaited hook cannot change its caller's ambient context (AsyncLocal does not flow back).
        using var activity = TaskTracing.Source.StartActivity("task.run", System.Diagnostics.ActivityKind.Internal, running.Entry.TraceParent);
        activity?.SetTag("tenzro.task.id", spec.TaskId);
        activity?.SetTag("tenzro.task.type", spec.Type);
        activity?.SetTag("tenzro.task.priority", spec.Priority.ToWire());
        try
        {
            // The running state is written RunningMarkDelay after the start, or together with the end when the
            // task is over sooner: a short task costs one commit, not two. A crash before the mark requeues the
            // task without counting the attempt, which is safe because nothing was acknowledged as run; the
            // API shows the running state from memory meanwhile. Runtimes that may crash the process are the
            // exception: their mark is written before the run.
            using var mark = new RunningMark(this, spec.TaskId, startedAt, attempts, running.Admission?.Task);
            if (running.PreMarked)
            {
                // The submission's own commit stored the task as running with this attempt counted.
                mark.Settle();
            }
            else if (_runtimes[spec.Type].MayCrashTheProcess && !running.Split)
            {
                // Counted before the run: a task that kills the process is then failed after MAX_TASK_ATTEMPTS
                // restarts instead of running again at every start.
                mark.Settle();
                await _store.MarkRunningAsync(spec.TaskId, startedAt, attempts);
            }

            if (running.Admission is null)
            {
                // A run that started before its submission was stored is announced by the submission, once stored.
                PublishRunning(running);
            }

            _metrics.QueueWait(spec.Type, startedAt - running.Entry.EnqueuedAt);

            var deadline = startedAt + spec.Timeout;
            lock (_lock)
            {
                running.StartClock(startedAt);
            }

            using var linked = CancellationTokenSource.CreateLinkedTokenSource(running.Timeout.Token, running.Cancellation.Token);
            var progress = new ProgressSink(this, running, spec.TaskId);

            // The payload is read now: a queued task does not hold it in memory.
            run = new TaskRun { Task = running.HasPayload ? spec : _store.Get(spec.TaskId)?.Spec ?? spec, Attempt = attempts, StartedAt = startedAt };
            JsonObject? result = null;
            string? error = null;
            TaskState state;
            try
            {
                // A run stopped during prestart still reaches its runtime, which sees the stop in its token and ends as a stop.
                await _lifecycle.PrestartAsync(run, linked.Token);
                var context = new TaskExecutionContext
                {
                    Task = run.Task,
                    CancellationToken = linked.Token,
                    Deadline = deadline,
                    Progress = progress,
                    ScratchDirectory = run.ScratchDirectory,
                    Pause = running.Gate,
                    CpuTime = run.CpuTime,
                    MemoryPeak = run.MemoryPeak,
                    StartGate = running.StartGate ?? TaskStartGate.Open,
                };
                result = running.Split && _splitRunner is { } splitter
                    ? await splitter.RunAsync(context)
                    : await ExecuteWhileDiskFullAsync(_runtimes[spec.Type], context, linked.Token);
                state = TaskState.Completed;
            }
            catch (Exception) when (linked.IsCancellationRequested)
            {
                (state, error) = running.StopReason switch
                {
                    StopReason.Cancelled => (TaskState.Cancelled, "cancelled by request while running"),
                    StopReason.Shutdown or StopReason.NotStored => (TaskState.Queued, null),
                    _ => (TaskState.TimedOut, $"stopped after its timeout of {spec.Timeout.TotalSeconds} s"),
                };
            }
            catch (TaskExecutionException e)
            {
                state = TaskState.Failed;
                error = e.Message;
            }
            catch (Exception e) when (e is OutOfMemoryException or InsufficientMemoryException)
            {
                state = TaskState.Failed;
                error = new ResourceError(ResourceShortage.Memory, e.Message).Message;
            }
            catch (Exception e)
            {
                state = TaskState.Failed;
                error = TaskErrorKinds.InternalErrorPrefix + e.Message;
                Log.TaskCrashed(_logger, e, spec.TaskId);
            }

            // A run that ended before its submission was written writes both in one commit (FinishAsync), unless the
            // submitter has begun writing the submission on its own; a run stopped by shutdown leaves that to the submitter.
            var withSubmission = running.Admission is not null && state != TaskState.Queued && running.ClaimSubmission();
            if (running.Admission is { } admission && !withSubmission && await admission.Task is null)
            {
                // Its submission was not stored (a conflicting task id, a failed write): nothing of this run is kept.
                mark.Settle();
                await mark.WrittenAsync();
                return;
            }

            if (state == TaskState.Queued)
            {
                // Shutdown: the attempt does not count; the next start picks the task up again.
                mark.Settle();
                await _store.RequeueAsync(spec.TaskId, attempts - 1);
                await mark.WrittenAsync();
                return;
            }

            activity?.SetTag("tenzro.task.state", state.ToWire());
            if (state != TaskState.Completed)
            {
                activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, error);
            }

            var ranFor = _time.GetUtcNow() - startedAt;
            _metrics.Finished(spec.Type, state, ranFor);
            var active = ranFor - running.Gate.PausedTime;
            if (active < TimeSpan.Zero)
            {
                active = TimeSpan.Zero;
            }

            var end = new TaskEnd(spec, state, active, run.CpuTime.Measured?.TotalSeconds ?? spec.Requirements.Cpu * active.TotalSeconds);
            if (withSubmission)
            {
                // The submitter plans a task once it is stored; this one is stored with its end, after what it learns here.
                PlanCost(run.Task);
            }

            _lifecycle.Stopped(run, end);
            // A running mark that waited for the submission is written after the end (and ignored there), so a run that
            // started before its submission was stored always writes its start with its end.
            var startWritten = mark.Settle() && running.Admission is null;
            running.Ending = true;
            // The run's spec carries the payload; the queue's copy of a task that waited does not.
            if (!await FinishAsync(run?.Task ?? spec, state, result, error, startWritten ? null : startedAt, startWritten ? null : attempts, withPayload: run is not null || running.HasPayload, submittedWith: withSubmission ? running : null))
            {
                // Written with its submission, which found the task id taken or failed: nothing of this run is kept.
                await mark.WrittenAsync();
                return;
            }

            await mark.WrittenAsync();
            await _lifecycle.FinishedAsync(end);
        }
        catch (Exception e)
        {
            Log.TaskCrashed(_logger, e, spec.TaskId);
        }
        finally
        {
            // A run that took the writing of its submission and failed before settling it: its submitter must not wait on.
            if (running.Admission is { } unsettled)
            {
                running.ClaimSubmission();
                unsettled.TrySetException(new StoreException($"task {spec.TaskId} ended without its submission being written; see the node's log."));
            }

            if (run is not null)
            {
                // While the id still holds its slot: its scratch directory is removed before a same-id task can start.
                _lifecycle.Released(run);
            }

            lock (_lock)
            {
                _ledger.Release(spec.TaskId);
                if (_holdFor is not null)
                {
                    // What this task gave back goes first to the task next in line, up to what it asks.
                    _held = _held.Plus(spec.Requirements).Min(_holdRequest);
                }

                _running.Remove(spec.TaskId);
            }

            // Only now: pausing and resuming touch the timeout under the lock, and only for tasks in _running.
            running.Timeout.Dispose();

            running.Completion.TrySetResult();
            Pump();
        }
    }

    /// <summary>Announces a run's start (its first attempt's running state).</summary>
    private void PublishRunning(RunningTask running)
    {
        var startedAt = running.PickedAt;
        Events.Publish(new TaskRecord { Spec = running.Entry.Spec, ContentHash = string.Empty, SubmittedAt = startedAt, State = TaskState.Running, Attempts = running.Entry.Attempts + 1, StartedAt = startedAt });
    }

    /// <param name="withPayload">
    /// Whether <paramref name="spec"/> carries the task's data: then the final record is built from it; else (the queue's
    /// copy, which holds no data) it is read back from the store.
    /// </param>
    /// <param name="submittedWith">
    /// A run that ended before its submission was written: the submission is written with the end, in one commit, and
    /// announced before it; the run's admission is then settled (null, having written nothing, when the task id is taken;
    /// the write's error when it failed, which is not retried: the submitter reports it as a failed submission).
    /// </param>
    /// <returns>False when the end was not written because its submission could not be.</returns>
    private async Task<bool> FinishAsync(TaskSpec spec, TaskState state, JsonObject? result, string? error, DateTimeOffset? startedAt = null, int? attempts = null, bool withPayload = false, RunningTask? submittedWith = null)
    {
        var finishedAt = _time.GetUtcNow();
        string? resultText = null;
        string? digest = null;
        if (result is not null)
        {
            try
            {
                using var document = JsonDocument.Parse(result.ToJsonString());
                resultText = CanonicalJson.ToCanonicalString(document.RootElement);
                digest = CanonicalJson.DigestOfCanonical(resultText);
            }
            catch (FormatException e)
            {
                state = TaskState.Failed;
                error = $"the result cannot be represented as canonical JSON: {e.Message}";
            }
        }

        TaskRecord? record = null;
        var expiresAt = finishedAt + _options.ResultRetentionPeriod;
        if (submittedWith is { Admission: { } admission, Submission: { } submission })
        {
            try
            {
                record = await _store.InsertFinishedAsync(submission, state, finishedAt, expiresAt, resultText, digest, error, startedAt, attempts);
            }
            catch (Exception e)
            {
                admission.TrySetException(e);
                return false;
            }

            if (record is null)
            {
                admission.TrySetResult(null);
                return false;
            }

            Events.Publish(submission);
            PublishRunning(submittedWith);
        }
        else
        {
            await StoreFinalStateAsync(
                async () =>
                {
                    if (withPayload)
                    {
                        record = await _store.FinishAsync(spec, state, finishedAt, expiresAt, resultText, digest, error, startedAt, attempts);
                    }
                    else
                    {
                        await _store.MarkFinishedAsync(spec.TaskId, state, finishedAt, expiresAt, resultText, digest, error, startedAt, attempts);
                        record = _store.Get(spec.TaskId);
                    }
                },
                spec.TaskId);
        }
        if (resultText is not null)
        {
            lock (_lock)
            {
                _storedBytes += Encoding.UTF8.GetByteCount(resultText);
            }
        }

        var ranFor = record?.StartedAt is { } started ? (finishedAt - started).TotalMilliseconds : 0;
        Log.TaskFinished(_logger, spec.TaskId, spec.Type, state.ToWire(), ranFor, error ?? string.Empty);
        if (record is not null)
        {
            Events.Publish(record);
            if (_finalWaiters.TryRemove(spec.TaskId, out var waiter))
            {
                waiter.TrySetResult(record);
            }
        }

        // Its submitter answers only now, with everything announced, and with the end it was waiting for.
        submittedWith?.Admission?.TrySetResult(record);

        return true;
    }

    /// <summary>How long a task runs before its running state is written on its own (see <see cref="RunningMark"/>).</summary>
    public static readonly TimeSpan RunningMarkDelay = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Writes a task's running state once it has run for <see cref="RunningMarkDelay"/>, unless it ended
    /// first. Exactly one of the timer and <see cref="Settle"/> wins; the store ignores a running mark that
    /// arrives after the final state.
    /// </summary>
    private sealed class RunningMark : IDisposable
    {
        private readonly ITimer _timer;
        private int _settled;
        private volatile Task? _write;

        /// <param name="stored">For a run that started before its submission was stored: what was stored, if anything; the mark waits for it.</param>
        public RunningMark(TaskEngine engine, string taskId, DateTimeOffset startedAt, int attempts, Task<TaskRecord?>? stored) =>
            _timer = engine._time.CreateTimer(
                _ =>
                {
                    if (Interlocked.Exchange(ref _settled, 1) == 0)
                    {
                        _write = stored is null ? engine._store.MarkRunningAsync(taskId, startedAt, attempts) : MarkOnceStoredAsync(engine, taskId, startedAt, attempts, stored);
                    }
                },
                null,
                RunningMarkDelay,
                Timeout.InfiniteTimeSpan);

        private static async Task MarkOnceStoredAsync(TaskEngine engine, string taskId, DateTimeOffset startedAt, int attempts, Task<TaskRecord?> stored)
        {
            if (await stored is not null)
            {
                await engine._store.MarkRunningAsync(taskId, startedAt, attempts);
            }
        }

        /// <summary>Stops the timer; true when the running mark was (or is being) written on its own.</summary>
        public bool Settle()
        {
            _timer.Dispose();
            return Interlocked.Exchange(ref _settled, 1) == 1;
        }

        /// <summary>Observes the running mark's write, if there was one.</summary>
        public Task WrittenAsync() => _write ?? Task.CompletedTask;

        public void Dispose() => _timer.Dispose();
    }

    private sealed class ProgressSink(TaskEngine engine, RunningTask running, string taskId) : IProgress<double>
    {
        // Progress is stored at most once a second, and not at all for tasks shorter than that.
        private long _lastStoredTicks = engine._time.GetTimestamp();

        public void Report(double value)
        {
            var clamped = Math.Clamp(double.IsNaN(value) ? 0 : value, 0, 1);
            running.Progress = clamped;
            if (running.Admission is { Task: var stored } && !(stored.IsCompletedSuccessfully && stored.Result is not null))
            {
                // Nothing of a run is written or announced before its submission is stored.
                return;
            }
            var now = engine._time.GetTimestamp();
            if (engine._time.GetElapsedTime(Interlocked.Read(ref _lastStoredTicks), now) >= TimeSpan.FromSeconds(1))
            {
                Interlocked.Exchange(ref _lastStoredTicks, now);
                _ = engine._store.SetProgressAsync(taskId, clamped);
            }

            engine.Events.PublishProgress(taskId, clamped);
        }
    }

    private enum StopReason
    {
        Timeout,
        Cancelled,
        Shutdown,

        /// <summary>A run started before its submission was stored, and the submission was not stored.</summary>
        NotStored,
    }

    /// <summary>A task holding a run slot. The clock members are called under the engine's lock only.</summary>
    private sealed class RunningTask(QueueEntry entry, CancellationTokenSource cancellation, TimeProvider time, bool canPause, long startOrder)
    {
        private DateTimeOffset? _startedAt;
        private TimeSpan _pausedBeforeStart;

        public QueueEntry Entry { get; } = entry;

        public CancellationTokenSource Cancellation { get; } = cancellation;

        /// <summary>Fires at the timeout; stopped while the task is paused, so paused time does not count.</summary>
        public CancellationTokenSource Timeout { get; } = new(System.Threading.Timeout.InfiniteTimeSpan, time);

        public TaskPauseGate Gate { get; } = new(time);

        public bool CanPause { get; } = canPause;

        public long StartOrder { get; } = startOrder;

        /// <summary>The group runs the task's parts (decided when it was picked); it reserved nothing here.</summary>
        public bool Split { get; init; }

        /// <summary>Its end is being written: from now on a waiter must read its end from the store.</summary>
        public volatile bool Ending;

        /// <summary>Started at its submission, which stored it as running with its first attempt counted.</summary>
        public bool PreMarked { get; init; }

        /// <summary>
        /// For a run started while its submission is being committed (<see cref="ITaskRuntime.StartsBeforeStored"/>,
        /// <see cref="ITaskRuntime.PreparesBeforeStored"/>): set to
        /// the stored record once the submission is stored (its end, when the run wrote both), null when it is not. The run
        /// writes and announces nothing before.
        /// </summary>
        public TaskCompletionSource<TaskRecord?>? Admission { get; init; }

        /// <summary>
        /// For a run of a runtime that may crash the process, begun while its submission commits
        /// (<see cref="ITaskRuntime.PreparesBeforeStored"/>): opens with its <see cref="Admission"/>, and the runtime runs
        /// none of the task's code before. Its submission is always written by the submitter, alone.
        /// </summary>
        public TaskStartGate? StartGate { get; init; }

        /// <summary>The record its submission writes, for a run with an <see cref="Admission"/>.</summary>
        public TaskRecord? Submission { get; set; }

        private int _submissionClaimed;

        /// <summary>
        /// Takes the writing of the submission, for the submitter (which writes it alone) or for the ended run (which
        /// writes it with its end); true for whoever comes first.
        /// </summary>
        public bool ClaimSubmission() => Interlocked.Exchange(ref _submissionClaimed, 1) == 0;

        /// <summary>The entry's spec carries the payload (a task started at its submission), so the run need not read it back.</summary>
        public bool HasPayload { get; init; }

        /// <summary>When the scheduler gave the task its slot (under its lock): the task's start time, so start times follow the pick order.</summary>
        public DateTimeOffset PickedAt { get; } = time.GetUtcNow();

        public string? PauseReason { get; private set; }

        public DateTimeOffset? PausedAt { get; private set; }

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public volatile StopReason StopReason = StopReason.Timeout;

        public double Progress { get; set; }

        /// <summary>Starts the timeout at the task's start, unless it is paused already (then at its resume).</summary>
        public void StartClock(DateTimeOffset startedAt)
        {
            _startedAt = startedAt;
            _pausedBeforeStart = Gate.PausedTime;
            if (!Gate.IsPaused)
            {
                Timeout.CancelAfter(Entry.Spec.Timeout);
            }
        }

        public bool Pause(string reason)
        {
            if (!Gate.Pause())
            {
                return false;
            }

            PauseReason = reason;
            PausedAt = time.GetUtcNow();
            Timeout.CancelAfter(System.Threading.Timeout.InfiniteTimeSpan);
            return true;
        }

        public bool Resume()
        {
            if (!Gate.Resume())
            {
                return false;
            }

            PauseReason = null;
            PausedAt = null;
            if (_startedAt is { } started)
            {
                var ran = time.GetUtcNow() - started - (Gate.PausedTime - _pausedBeforeStart);
                var left = Entry.Spec.Timeout - ran;
                Timeout.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            }

            return true;
        }
    }
}
