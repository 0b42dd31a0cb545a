using System.Text;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Core.Tasks;

/// <summary>
/// Admits tasks into the durable store (<see cref="ITaskStore"/>), keeps the priority queue, starts tasks when the
/// ledger and MAX_CONCURRENT_TASKS allow, enforces deadlines, pauses and resumes running tasks under a
/// <see cref="RunLimit"/>, and records every transition. One job a file: the queue and its surface here,
/// scheduling in TaskEngine.Scheduling.cs, the run in TaskEngine.Run.cs, retries on a full disk in
/// TaskEngine.Durable.cs, pausing in TaskEngine.Pause.cs, and what callers see in TaskEngine.Views.cs.
/// The duties of a task's phases that are not the scheduler's own (the scratch directory, the cost record, the quota
/// charge, the regional report, later aggregation's fetches and reports) are lifecycle hooks, run in the one order of
/// <see cref="TaskLifecycle"/>: prestart, stopped, finished, released. The reservation, the task next in line and the
/// tracing span stay here (docs/ARCHITECTURE.md says why).
/// </summary>
/// <remarks>
/// Thread-safe. Lifecycle: <see cref="Start"/> once (rebuilds the queue from the store), then any
/// number of submissions, then <see cref="StopAsync"/> once, which stops running tasks and requeues them
/// without counting an attempt.
/// </remarks>
public sealed partial class TaskEngine : IAsyncDisposable, IRunningTaskLimiter
{
    private readonly ITaskStore _store;
    private readonly IResourceLedger _ledger;
    private readonly IntakeState _intake;
    private readonly TaskOptions _options;
    private readonly QuotaOptions _quotas;
    private readonly TimeProvider _time;
    private readonly ILogger<TaskEngine> _logger;
    private readonly TaskMetrics _metrics;
    private readonly Dictionary<string, ITaskRuntime> _runtimes;
    private readonly Optimization.RunSlots _slots;
    private readonly Optimization.CostModel? _costs;
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<JsonObject, Optimization.TaskCostInput> _costInputs = new();
    /// <summary>How deep the scheduler looks past a task that does not fit, for one that does (backfill).</summary>
    public const int BackfillWindow = 256;

    private readonly Lock _lock = new();
    private readonly SortedSet<QueueEntry> _queue = new(QueueEntry.Order);

    /// <summary>Queued tasks by priority (indexed by <see cref="TaskPriority"/>), kept with <see cref="_queue"/>.</summary>
    private readonly int[] _queuedByPriority = new int[Enum.GetValues<TaskPriority>().Length];
    private readonly Dictionary<string, QueueEntry> _queued = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RunningTask> _running = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<TaskRecord>> _finalWaiters = new(StringComparer.Ordinal);
    private readonly TaskScratch _scratch;
    private readonly TaskLifecycle _lifecycle;
    private long _sequence;

    // Bytes of the payloads ('data') of queued tasks, and of the inputs and results the store keeps: the byte
    // budgets QUOTA_QUEUED_BYTES and QUOTA_STORED_BYTES, for every origin. Guarded by _lock.
    private long _queuedBytes;
    private long _storedBytes;
    private long _startOrder;
    private bool _stopping;
    private RunLimit? _runLimit;

    // The first queued task that did not fit ("next in line", CONTRACTS.md) and what has been freed for it
    // since it began to wait: backfill may use only what is free beyond that, so smaller tasks behind it
    // cannot take every freed resource and keep it waiting forever.
    private string? _holdFor;
    private ResourceAmounts _holdRequest = ResourceAmounts.None;
    private volatile ISplitRunner? _splitRunner;
    private ResourceAmounts _held = ResourceAmounts.None;


    public TaskEngine(
        ITaskStore store,
        IResourceLedger ledger,
        IntakeState intake,
        IEnumerable<ITaskRuntime> runtimes,
        TaskOptions options,
        StorageOptions storage,
        TimeProvider time,
        TaskMetrics metrics,
        ILogger<TaskEngine> logger,
        QuotaOptions? quotas = null,
        Optimization.RunSlots? slots = null,
        Optimization.CostModel? costs = null,
        TaskHooks? hooks = null)
    {
        _costs = costs;
        _quotas = quotas ?? new QuotaOptions();
        _slots = slots ?? new Optimization.RunSlots(options, ledger);
        _store = store;
        _ledger = ledger;
        _intake = intake;
        _options = options;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _runtimes = new Dictionary<string, ITaskRuntime>(StringComparer.Ordinal);
        foreach (var runtime in runtimes)
        {
            foreach (var type in runtime.Types)
            {
                _runtimes[type] = runtime;
            }
        }

        // The lifecycle hooks in the one order they run: the engine's own, then the host's (CoreServices.AddTaskEngine).
        _scratch = new TaskScratch(Path.Combine(storage.DataDirectory, "scratch"));
        _lifecycle = new TaskLifecycle([_scratch, costs is null ? null : new CostRecordHook(costs), .. (hooks ?? TaskHooks.None).Ordered], logger);
        Events = new TaskEventHub();
    }

    /// <summary>Task types some registered runtime executes.</summary>
    public IReadOnlyCollection<string> Types => _runtimes.Keys;

    public TaskEventHub Events { get; }

    /// <summary>The group's runner of split tasks; null while the node has none (split tasks then run whole).</summary>
    public ISplitRunner? SplitRunner => _splitRunner;

    /// <summary>Sets the runner of split tasks (the host's aggregation service, which is made after the engine).</summary>
    public void UseSplitRunner(ISplitRunner runner) => _splitRunner = runner;

    /// <summary>The lifecycle hooks, in the order they run.</summary>
    public IReadOnlyList<ITaskHook> Hooks => _lifecycle.Hooks;

    /// <summary>True while the task holds a run slot (its reservation is owned).</summary>
    public bool IsRunning(string taskId)
    {
        lock (_lock)
        {
            return _running.ContainsKey(taskId);
        }
    }

    public int RunningCount
    {
        get
        {
            lock (_lock)
            {
                return _running.Count;
            }
        }
    }

    public int QueuedCount
    {
        get
        {
            lock (_lock)
            {
                return _queued.Count;
            }
        }
    }

    /// <summary>Bytes of queued payloads and of stored inputs and results, with their budgets.</summary>
    public ByteBudgets Budgets()
    {
        lock (_lock)
        {
            return new ByteBudgets(_queuedBytes, _quotas.QueuedBytes, _storedBytes, StoredBudget);
        }
    }

    /// <summary>Counts again what the store keeps (after results expired); called by the result sweeper.</summary>
    public void RecountStoredBytes()
    {
        var stored = _store.StoredBytes();
        lock (_lock)
        {
            _storedBytes = stored;
        }
    }

    private long StoredBudget => _quotas.StoredBytes ?? (long)(_ledger.Maximum.StorageMB * 1024 * 1024);

    /// <summary>The UTF-8 size of a task's payload, what the queue's byte budget counts.</summary>
    private static long PayloadSize(TaskSpec task) => Encoding.UTF8.GetByteCount(task.Data.ToJsonString());

    /// <summary>Queue depth by priority, for metrics.</summary>
    public IReadOnlyDictionary<TaskPriority, int> QueueDepthByPriority()
    {
        lock (_lock)
        {
            return Enum.GetValues<TaskPriority>().ToDictionary(p => p, p => _queuedByPriority[(int)p]);
        }
    }

    /// <summary>Rebuilds the queue from the store: queued tasks keep their order; tasks that were running when the process died are requeued, or failed once they used up MAX_TASK_ATTEMPTS.</summary>
    public async Task StartAsync()
    {
        _scratch.RemoveLeftovers();
        RecountStoredBytes();
        foreach (var record in _store.LoadUnfinished())
        {
            if (record.State == TaskState.Running)
            {
                if (record.Attempts >= _options.MaxAttempts)
                {
                    var now = _time.GetUtcNow();
                    var error = $"{TaskErrorKinds.InterruptedPrefix}{record.Attempts} times (the node stopped while it ran); MAX_TASK_ATTEMPTS is {_options.MaxAttempts}";
                    await _store.MarkFinishedAsync(record.TaskId, TaskState.Failed, now, now + _options.ResultRetentionPeriod, null, null, error);
                    continue;
                }

                await _store.RequeueAsync(record.TaskId, record.Attempts);
                Log.TaskRecovered(_logger, record.TaskId, record.Attempts);
            }

            lock (_lock)
            {
                var entry = new QueueEntry(record.Spec with { Data = [] }, record.Sequence, record.Attempts, record.SubmittedAt, PayloadSize(record.Spec));
                _queuedBytes += entry.PayloadBytes;
                Enqueue(entry);
                _queued[record.TaskId] = entry;
                _sequence = Math.Max(_sequence, record.Sequence);
            }
        }

        Pump();
    }

    /// <summary>Checks a parsed task against its runtime and what the ledger could ever give it.</summary>
    public ValidationErrors Validate(TaskSpec task, ValidationErrors? errors = null)
    {
        errors ??= new ValidationErrors();
        if (!_runtimes.TryGetValue(task.Type, out var runtime))
        {
            errors.Add("type", $"'{task.Type}' is not a task type this node runs.");
            return errors;
        }

        var split = Aggregation.Split.SplitRequest.Requested(task) ? Aggregation.Split.TaskSplitter.Validate(task, errors) : null;
        var splits = split is not null && _splitRunner?.CanSplit(task) == true;
        foreach (var (resource, asked, available) in _ledger.Maximum.Shortfalls(task.Requirements))
        {
            // A task the group splits reserves nothing here; its parts are checked by the members that run them.
            if (!splits)
            {
                errors.Add($"requirements.{resource}", $"asks for {asked} but this node allows at most {available}; the task can never run here.");
            }
        }

        runtime.Validate(task, errors);
        if (errors.IsEmpty && _costs?.Refusal(task, CostInput(runtime, task)) is { } tooLong)
        {
            errors.Add("timeout", tooLong);
        }

        return errors;
    }

    /// <summary>The task's cost input, described once per payload (admission validates, then submits the same payload).</summary>
    private Optimization.TaskCostInput CostInput(ITaskRuntime runtime, TaskSpec task) =>
        _costInputs.GetValue(task.Data, _ => runtime.DescribeCost(task));

    /// <summary>
    /// How long a submitter that waits for the task's end (<c>?wait</c>) lets a run that started before its submission was
    /// stored (<see cref="ITaskRuntime.StartsBeforeStored"/>) end, so that the submission and the end share one commit.
    /// </summary>
    public static readonly TimeSpan SubmissionWithEndWithin = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// Makes a validated task durable and queues it. The returned task completes only after the
    /// task is committed to the store.
    /// </summary>
    /// <param name="task">The task, validated.</param>
    /// <param name="waitsForEnd">
    /// The submitter waits for the task's end anyway (<c>?wait</c>): a run that may start before its submission is stored
    /// gets <see cref="SubmissionWithEndWithin"/> to end first, and then its submission and its end are written in one
    /// commit. Either way the returned task completes once the submission is durable.
    /// </param>
    public async Task<SubmitOutcome> SubmitAsync(TaskSpec task, bool waitsForEnd = false)
    {
        var refusal = _intake.RefusalReason;
        if (refusal is not null)
        {
            return SubmitOutcome.Refused(refusal);
        }

        if (QueuedCount >= _options.MaxQueuedTasks)
        {
            return SubmitOutcome.Refused($"the queue holds MAX_QUEUED_TASKS ({_options.MaxQueuedTasks}) tasks");
        }

        var size = PayloadSize(task);
        lock (_lock)
        {
            if (_queuedBytes + size > _quotas.QueuedBytes)
            {
                return SubmitOutcome.Refused($"queued tasks hold {_queuedBytes} bytes of data and this one {size} more; QUOTA_QUEUED_BYTES is {_quotas.QueuedBytes}");
            }

            if (_storedBytes + size > StoredBudget)
            {
                return SubmitOutcome.Refused($"kept task inputs and results take {_storedBytes} bytes and this task {size} more; QUOTA_STORED_BYTES is {StoredBudget}");
            }

            _queuedBytes += size;
            _storedBytes += size;
        }

        var hash = TaskParser.ContentHash(task);
        var record = new TaskRecord { Spec = task, ContentHash = hash, SubmittedAt = _time.GetUtcNow(), State = TaskState.Queued };
        var atOnce = TryStartAtOnce(task, record.SubmittedAt, size);
        var stored = atOnce is { PreMarked: true } ? record with { State = TaskState.Running, StartedAt = atOnce.PickedAt, Attempts = 1 } : record;
        var admission = atOnce?.Admission;
        var writtenWithEnd = false;
        var submissionStored = false;
        if (admission is not null && atOnce!.StartGate is null)
        {
            // Runs on this thread up to the runtime's first wait (the job handed to its worker).
            atOnce!.Submission = stored;
            _ = RunAsync(atOnce);
            if (waitsForEnd && !admission.Task.IsCompleted)
            {
                // Past the grace the run goes on and its submission is written now, on its own; a failed write of both
                // is reported below, where the budget is given back.
                await ((Task)admission.Task.WaitAsync(SubmissionWithEndWithin, _time)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            // Whoever comes first writes the submission: this submitter, alone, or the ended run, with its end.
            writtenWithEnd = !atOnce.ClaimSubmission();
        }

        try
        {
            TaskRecord? written;
            try
            {
                if (atOnce?.StartGate is not null)
                {
                    // Its runtime waits for this write before any of the task's code runs. The run goes to another thread
                    // (the pool's shared queue), and this one goes on to the write, so the hand-off to the runtime and its
                    // set-up overlap the commit rather than delay it.
                    atOnce.ClaimSubmission();
                    ThreadPool.QueueUserWorkItem(static state => _ = state.Engine.RunAsync(state.Running), (Engine: this, Running: atOnce), preferLocal: false);
                    written = await _store.InsertAsync(stored) ? stored : null;
                }
                else
                {
                    written = writtenWithEnd ? await admission!.Task : (await _store.InsertAsync(stored) ? stored : null);
                }
            }
            catch
            {
                Unbudget(size);
                NotStored(writtenWithEnd ? null : atOnce);
                throw;
            }

            if (written is null)
            {
                Unbudget(size);
                NotStored(writtenWithEnd ? null : atOnce);
                return ExistingOrConflict(task.TaskId, hash);
            }

            submissionStored = true;

            _metrics.Submitted(task.Type);
            if (writtenWithEnd)
            {
                // Stored with its end, and announced by its run: created, running, then its end. The answer is the end.
                lock (_lock)
                {
                    _queuedBytes -= size;
                }

                return SubmitOutcome.Created(written);
            }

            PlanCost(task);

            if (atOnce is not null)
            {
                lock (_lock)
                {
                    _queuedBytes -= size;
                }

                Events.Publish(record);
                if (admission is null)
                {
                    _ = Task.Run(() => RunAsync(atOnce));
                }
                else
                {
                    // The run has started already: its start is announced now that the submission is stored, then
                    // its end may be written.
                    PublishRunning(atOnce);
                    admission.TrySetResult(stored);
                }

                return SubmitOutcome.Created(record);
            }
        }
        finally
        {
            // Whatever went wrong above, a run that started early never waits for its submission in vain: it goes on when the
            // submission is stored (the failure came after), and is stopped when it is not.
            if (admission is { Task.IsCompleted: false })
            {
                if (submissionStored)
                {
                    admission.TrySetResult(stored);
                }
                else
                {
                    NotStored(atOnce);
                }
            }
        }

        lock (_lock)
        {
            // The queue keeps what it schedules by; the payload stays in the store until the task starts.
            var entry = new QueueEntry(task with { Data = [] }, ++_sequence, 0, record.SubmittedAt, size) { TraceParent = System.Diagnostics.Activity.Current?.Context ?? default };
            Enqueue(entry);
            _queued[task.TaskId] = entry;
        }

        Events.Publish(record);
        Pump();
        return SubmitOutcome.Created(record);
    }

    /// <summary>The answer to a submission whose task id is taken: the same task (same content) or a conflict.</summary>
    private SubmitOutcome ExistingOrConflict(string taskId, string hash)
    {
        var existing = _store.Get(taskId);
        return existing is not null && existing.ContentHash == hash
            ? SubmitOutcome.Existing(existing)
            : SubmitOutcome.Conflict(existing);
    }

    /// <summary>Has the cost model estimate a stored task before it runs (its status shows the estimate).</summary>
    private void PlanCost(TaskSpec task)
    {
        if (_costs is not null && _runtimes.TryGetValue(task.Type, out var runtime))
        {
            _costs.Plan(task, CostInput(runtime, task));
        }
    }

    /// <summary>
    /// Gives a new task its slot and reservation before its submission is written, when it would be the very next to
    /// start anyway: nothing is queued or held for, a slot is free and its resources fit. Its submission is then stored
    /// as its start: for a runtime that may crash the process the attempt is counted in the submission's own commit
    /// (see <see cref="RunningTask.PreMarked"/>), so a short task pays no extra commit, and the run takes the payload
    /// from the submission instead of reading it back. Null when the task must queue.
    /// </summary>
    private RunningTask? TryStartAtOnce(TaskSpec task, DateTimeOffset submittedAt, long size)
    {
        if (!_runtimes.TryGetValue(task.Type, out var runtime) || _splitRunner?.Defers(task) == true || Splits(task))
        {
            return null;
        }

        // Not for an id that is taken already (a resubmission, say): its write will refuse it, and meanwhile it would hold a
        // slot under the id of a stored task (a waiter on that id would then wait for a run that never ends).
        if (!task.IdFromNode && _store.GetForStatus(task.TaskId) is not null)
        {
            return null;
        }

        var beforeStored = runtime.MayCrashTheProcess ? runtime.PreparesBeforeStored : runtime.StartsBeforeStored;

        lock (_lock)
        {
            if (_stopping || _queue.Count > 0 || _holdFor is not null || _intake.Draining || _intake.UserActive is not null
                || _running.ContainsKey(task.TaskId) || _queued.ContainsKey(task.TaskId)
                || _running.Values.Count(r => !r.Split) >= _slots.Current
                || (Unheld(task) && UnheldRunning() >= _slots.UnheldCurrent)
                || !_ledger.TryReserve(task.TaskId, task.Requirements, out _))
            {
                return null;
            }

            // The run gets its own copy of the payload: the caller's objects are read by the answer and the events.
            var spec = task with { Data = task.Data.DeepClone().AsObject(), Config = task.Config.DeepClone().AsObject() };
            var admission = beforeStored ? new TaskCompletionSource<TaskRecord?>() : null;
            var entry = new QueueEntry(spec, ++_sequence, 0, submittedAt, size) { TraceParent = System.Diagnostics.Activity.Current?.Context ?? default };
            var running = new RunningTask(entry, new CancellationTokenSource(), _time, runtime.SupportsPause, ++_startOrder)
            {
                PreMarked = runtime.MayCrashTheProcess,
                HasPayload = true,
                Admission = admission,
                StartGate = beforeStored && runtime.MayCrashTheProcess ? new TaskStartGate(admission!.Task) : null,
            };
            _running[task.TaskId] = running;
            return running;
        }
    }

    /// <summary>
    /// Gives back the slot and reservation of a start that its submission's write did not confirm; a run that started
    /// before its submission was stored is stopped instead, and gives them back itself as it ends.
    /// </summary>
    private void NotStored(RunningTask? running)
    {
        if (running is null)
        {
            return;
        }

        if (running.Admission is { } admission)
        {
            running.StopReason = StopReason.NotStored;
            running.Cancellation.Cancel();
            admission.TrySetResult(null);
            return;
        }

        lock (_lock)
        {
            _running.Remove(running.Entry.Spec.TaskId);
            _ledger.Release(running.Entry.Spec.TaskId);
        }

        running.Timeout.Dispose();
        running.Completion.TrySetResult();
        Pump();
    }

    /// <summary>Cancels a queued or running task. Returns false if it is unknown or already final.</summary>
    public async Task<bool> CancelAsync(string taskId)
    {
        QueueEntry? dequeued = null;
        RunningTask? running = null;
        lock (_lock)
        {
            if (_queued.Remove(taskId, out var entry))
            {
                Dequeue(entry);
                _queuedBytes -= entry.PayloadBytes;
                dequeued = entry;
            }
            else if (_running.TryGetValue(taskId, out running))
            {
                running.StopReason = StopReason.Cancelled;
            }
        }

        if (dequeued is not null)
        {
            await FinishAsync(dequeued.Spec, TaskState.Cancelled, null, "cancelled by request before it started");
            await _lifecycle.FinishedAsync(new TaskEnd(dequeued.Spec, TaskState.Cancelled, TimeSpan.Zero, null));
            Pump();
            return true;
        }

        if (running is not null)
        {
            await running.Cancellation.CancelAsync();
            return true;
        }

        return false;
    }

    /// <summary>Waits until the task is final or <paramref name="timeout"/> passes; returns the latest record.</summary>
    public async Task<TaskRecord?> WaitAsync(string taskId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var waiter = _finalWaiters.GetOrAdd(taskId, _ => new TaskCompletionSource<TaskRecord>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!EndsLater(taskId) && _store.Get(taskId) is var current && (current is null || current.State.IsFinal()))
        {
            // Registered before the check so that an end in between is not missed. The end may have been
            // written but not yet announced: whoever shares this waiter gets the final record from here.
            if (_finalWaiters.TryRemove(new KeyValuePair<string, TaskCompletionSource<TaskRecord>>(taskId, waiter)) && current is not null)
            {
                waiter.TrySetResult(current);
            }

            return current;
        }

        try
        {
            return await waiter.Task.WaitAsync(timeout, _time, cancellationToken);
        }
        catch (TimeoutException)
        {
            return _store.Get(taskId);
        }
    }

    /// <summary>
    /// Whether the task is queued or running here and its end is not being written yet, so that its end will announce
    /// itself to a waiter registered now: the wait then needs no read of the store.
    /// </summary>
    private bool EndsLater(string taskId)
    {
        lock (_lock)
        {
            return _queued.ContainsKey(taskId) || (_running.TryGetValue(taskId, out var running) && !running.Ending);
        }
    }

    /// <summary>Stops intake, stops running tasks and requeues them without counting the attempt.</summary>
    public async Task StopAsync()
    {
        List<RunningTask> running;
        lock (_lock)
        {
            _stopping = true;
            running = [.. _running.Values];
            foreach (var task in running)
            {
                task.StopReason = StopReason.Shutdown;
            }
        }

        foreach (var task in running)
        {
            await task.Cancellation.CancelAsync();
        }

        await Task.WhenAll(running.Select(r => r.Completion.Task)).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
    }

    private void Unbudget(long size)
    {
        lock (_lock)
        {
            _queuedBytes -= size;
            _storedBytes -= size;
        }
    }

    /// <summary>Adds to the queue; under <see cref="_lock"/>.</summary>
    private void Enqueue(QueueEntry entry)
    {
        if (_queue.Add(entry))
        {
            _queuedByPriority[(int)entry.Spec.Priority]++;
        }
    }

    /// <summary>Takes out of the queue; under <see cref="_lock"/>.</summary>
    private void Dequeue(QueueEntry entry)
    {
        if (_queue.Remove(entry))
        {
            _queuedByPriority[(int)entry.Spec.Priority]--;
        }
    }

    /// <summary>
    /// The 1-based place of <paramref name="entry"/> in the queue; under <see cref="_lock"/>. The tasks of higher
    /// priorities are counted, and within its own priority only the tasks behind it are walked: a task just submitted
    /// is last of its priority, so its place costs nothing however long the queue (a walk from the head made every
    /// submission cost the length of the queue).
    /// </summary>
    private int PositionOf(QueueEntry entry)
    {
        var priority = (int)entry.Spec.Priority;
        var ahead = 0;
        for (var p = priority + 1; p < _queuedByPriority.Length; p++)
        {
            ahead += _queuedByPriority[p];
        }

        var fromHereOn = _queue.GetViewBetween(entry, QueueEntry.LastOf(entry.Spec.Priority)).Count;
        return ahead + _queuedByPriority[priority] - fromHereOn + 1;
    }

    private sealed class QueueEntry(TaskSpec spec, long sequence, int attempts, DateTimeOffset enqueuedAt, long payloadBytes)
    {
        private static readonly QueueEntry[] Last = [.. Enum.GetValues<TaskPriority>()
            .Select(p => new QueueEntry(new TaskSpec { TaskId = string.Empty, Type = string.Empty, Timeout = TimeSpan.Zero, Priority = p }, long.MaxValue, 0, default, 0))];

        public static readonly IComparer<QueueEntry> Order = Comparer<QueueEntry>.Create(static (a, b) =>
        {
            var byPriority = b.Spec.Priority.CompareTo(a.Spec.Priority);
            return byPriority != 0 ? byPriority : a.Sequence.CompareTo(b.Sequence);
        });

        public TaskSpec Spec { get; } = spec;

        public long Sequence { get; } = sequence;

        /// <summary>A bound that sorts after every task of <paramref name="priority"/> and before those of lower ones.</summary>
        public static QueueEntry LastOf(TaskPriority priority) => Last[(int)priority];

        public int Attempts { get; } = attempts;

        /// <summary>The size of the payload, which stays in the store while the task waits.</summary>
        public long PayloadBytes { get; } = payloadBytes;

        /// <summary>When the task was submitted (the engine's clock), for the queue-wait histogram.</summary>
        public DateTimeOffset EnqueuedAt { get; } = enqueuedAt;

        /// <summary>The trace context of the submission, so the run span joins the request's trace.</summary>
        public System.Diagnostics.ActivityContext TraceParent { get; init; }
    }
}

/// <summary>The result of <see cref="TaskEngine.SubmitAsync"/>.</summary>
public sealed record SubmitOutcome(SubmitStatus Status, TaskRecord? Record, string? Reason)
{
    public static SubmitOutcome Created(TaskRecord record) => new(SubmitStatus.Created, record, null);

    public static SubmitOutcome Existing(TaskRecord record) => new(SubmitStatus.Existing, record, null);

    public static SubmitOutcome Conflict(TaskRecord? record) => new(SubmitStatus.Conflict, record, "a task with this taskId exists with different content");

    public static SubmitOutcome Refused(string reason) => new(SubmitStatus.Refused, null, reason);
}

public enum SubmitStatus
{
    Created,
    Existing,
    Conflict,
    Refused,
}
