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
/// Admits tasks into the durable store, keeps the priority queue, starts tasks when the ledger and
/// MAX_CONCURRENT_TASKS allow, enforces deadlines, pauses and resumes running tasks under a
/// <see cref="RunLimit"/> (TaskEngine.Pause.cs), and records every transition.
/// </summary>
/// <remarks>
/// Thread-safe. Lifecycle: <see cref="Start"/> once (rebuilds the queue from the store), then any
/// number of submissions, then <see cref="StopAsync"/> once, which stops running tasks and requeues them
/// without counting an attempt.
/// </remarks>
public sealed partial class TaskEngine : IAsyncDisposable, IRunningTaskLimiter
{
    private readonly TaskStore _store;
    private readonly IResourceLedger _ledger;
    private readonly IntakeState _intake;
    private readonly TaskOptions _options;
    private readonly QuotaOptions _quotas;
    private readonly TimeProvider _time;
    private readonly ILogger<TaskEngine> _logger;
    private readonly TaskMetrics _metrics;
    private readonly Dictionary<string, ITaskRuntime> _runtimes;
    /// <summary>How deep the scheduler looks past a task that does not fit, for one that does (backfill).</summary>
    public const int BackfillWindow = 256;

    private readonly Lock _lock = new();
    private readonly SortedSet<QueueEntry> _queue = new(QueueEntry.Order);
    private readonly Dictionary<string, QueueEntry> _queued = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RunningTask> _running = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<TaskRecord>> _finalWaiters = new(StringComparer.Ordinal);
    private readonly string _scratchRoot;
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
    private ResourceAmounts _holdRequest = NoResources;
    private ResourceAmounts _held = NoResources;

    private static readonly ResourceAmounts NoResources = new(0, 0, 0, 0, 0);

    public TaskEngine(
        TaskStore store,
        IResourceLedger ledger,
        IntakeState intake,
        IEnumerable<ITaskRuntime> runtimes,
        TaskOptions options,
        StorageOptions storage,
        TimeProvider time,
        TaskMetrics metrics,
        ILogger<TaskEngine> logger,
        QuotaOptions? quotas = null)
    {
        _quotas = quotas ?? new QuotaOptions();
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

        _scratchRoot = Path.Combine(storage.DataDirectory, "scratch");
        Events = new TaskEventHub();
    }

    /// <summary>Task types some registered runtime executes.</summary>
    public IReadOnlyCollection<string> Types => _runtimes.Keys;

    public TaskEventHub Events { get; }

    /// <summary>Raised after a task reaches a final state, with its run time less the time it spent paused (zero if it never ran). Handlers must be quick and not throw.</summary>
    public event Action<TaskSpec, TaskState, TimeSpan>? Finished;

    /// <summary>
    /// Raised after a task that ran reaches a final state, with the CPU-seconds it used: measured by its runtime
    /// (<see cref="TaskExecutionContext.CpuTime"/>), else its reserved cores × its run time. Handlers must be quick and not throw.
    /// </summary>
    public event Action<TaskSpec, double>? CpuUsed;

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
            return Enum.GetValues<TaskPriority>().ToDictionary(p => p, p => _queue.Count(e => e.Spec.Priority == p));
        }
    }

    /// <summary>Rebuilds the queue from the store: queued tasks keep their order; tasks that were running when the process died are requeued, or failed once they used up MAX_TASK_ATTEMPTS.</summary>
    public async Task StartAsync()
    {
        Directory.CreateDirectory(_scratchRoot);
        foreach (var stale in Directory.EnumerateDirectories(_scratchRoot))
        {
            TryDeleteDirectory(stale);
        }

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
                _queue.Add(entry);
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

        foreach (var (resource, asked, available) in _ledger.Maximum.Shortfalls(ResourceAmounts.From(task.Requirements)))
        {
            errors.Add($"requirements.{resource}", $"asks for {asked} but this node allows at most {available}; the task can never run here.");
        }

        runtime.Validate(task, errors);
        return errors;
    }

    /// <summary>
    /// Makes a validated task durable and queues it. The returned task completes only after the
    /// task is committed to the store.
    /// </summary>
    public async Task<SubmitOutcome> SubmitAsync(TaskSpec task)
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
        bool inserted;
        try
        {
            inserted = await _store.InsertAsync(record);
        }
        catch
        {
            Unbudget(size);
            throw;
        }

        if (!inserted)
        {
            Unbudget(size);
            var existing = _store.Get(task.TaskId);
            return existing is not null && existing.ContentHash == hash
                ? SubmitOutcome.Existing(existing)
                : SubmitOutcome.Conflict(existing);
        }

        _metrics.Submitted(task.Type);
        lock (_lock)
        {
            // The queue keeps what it schedules by; the payload stays in the store until the task starts.
            var entry = new QueueEntry(task with { Data = [] }, ++_sequence, 0, record.SubmittedAt, size) { TraceParent = System.Diagnostics.Activity.Current?.Context ?? default };
            _queue.Add(entry);
            _queued[task.TaskId] = entry;
        }

        Events.Publish(record);
        Pump();
        return SubmitOutcome.Created(record);
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
                _queue.Remove(entry);
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
            Finished?.Invoke(dequeued.Spec, TaskState.Cancelled, TimeSpan.Zero);
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
        var current = _store.Get(taskId);
        if (current is null || current.State.IsFinal())
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

            var position = _queue.GetViewBetween(_queue.Min!, entry).Count;
            var request = ResourceAmounts.From(entry.Spec.Requirements);
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

            if (_running.Count >= _options.MaxConcurrentTasks)
            {
                return new JsonObject
                {
                    ["reason"] = "concurrency",
                    ["position"] = position,
                    ["running"] = _running.Count,
                    ["detail"] = $"MAX_CONCURRENT_TASKS ({_options.MaxConcurrentTasks}) tasks are running; position {position} in the queue",
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
            foreach (var entry in startNothing ? [] : _queue)
            {
                var slotsFull = _running.Count + toStart.Count >= _options.MaxConcurrentTasks;
                if ((slotsFull && head is not null) || ++scanned > BackfillWindow)
                {
                    scannedAll = false;
                    break;
                }

                var request = ResourceAmounts.From(entry.Spec.Requirements);
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

                if (head is not null && !_ledger.Free.Minus(_held).Fits(request))
                {
                    continue;
                }

                if (_ledger.TryReserve(entry.Spec.TaskId, request, out _))
                {
                    toStart.Add(entry);
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
                _queue.Remove(entry);
                _queued.Remove(entry.Spec.TaskId);
                _queuedBytes -= entry.PayloadBytes;
                var running = new RunningTask(entry, new CancellationTokenSource(), _time, _runtimes[entry.Spec.Type].SupportsPause, ++_startOrder);
                _running[entry.Spec.TaskId] = running;
                started.Add(running);
            }

            // The hold ends when nothing waits for resources any more (a whole scan found no head; a scan cut
            // short by full slots or the window says nothing about it), or when the task held for started, was
            // cancelled or left the queue.
            if ((head is null && scannedAll && !startNothing) || (_holdFor is not null && !_queued.ContainsKey(_holdFor)))
            {
                _holdFor = null;
                _held = NoResources;
            }
        }

        Report(changes);

        foreach (var running in started)
        {
            _ = Task.Run(() => RunAsync(running));
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

    private async Task RunAsync(RunningTask running)
    {
        var spec = running.Entry.Spec;
        var attempts = running.Entry.Attempts + 1;
        var startedAt = running.PickedAt;
        var scratch = ScratchDirectory(spec.TaskId);
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
            using var mark = new RunningMark(this, spec.TaskId, startedAt, attempts);
            if (_runtimes[spec.Type].MayCrashTheProcess)
            {
                // Counted before the run: a task that kills the process is then failed after MAX_TASK_ATTEMPTS
                // restarts instead of running again at every start.
                mark.Settle();
                await _store.MarkRunningAsync(spec.TaskId, startedAt, attempts);
            }

            Events.Publish(new TaskRecord { Spec = spec, ContentHash = string.Empty, SubmittedAt = startedAt, State = TaskState.Running, Attempts = attempts, StartedAt = startedAt });
            _metrics.QueueWait(spec.Type, startedAt - running.Entry.EnqueuedAt);

            var deadline = startedAt + spec.Timeout;
            lock (_lock)
            {
                running.StartClock(startedAt);
            }

            using var linked = CancellationTokenSource.CreateLinkedTokenSource(running.Timeout.Token, running.Cancellation.Token);
            var progress = new ProgressSink(this, running, spec.TaskId);
            var context = new TaskExecutionContext
            {
                // The payload is read now: a queued task does not hold it in memory.
                Task = _store.Get(spec.TaskId)?.Spec ?? spec,
                CancellationToken = linked.Token,
                Deadline = deadline,
                Progress = progress,
                ScratchDirectory = scratch,
                Pause = running.Gate,
            };

            JsonObject? result = null;
            string? error = null;
            TaskState state;
            try
            {
                result = await ExecuteWhileDiskFullAsync(_runtimes[spec.Type], context, linked.Token);
                state = TaskState.Completed;
            }
            catch (Exception) when (linked.IsCancellationRequested)
            {
                (state, error) = running.StopReason switch
                {
                    StopReason.Cancelled => (TaskState.Cancelled, "cancelled by request while running"),
                    StopReason.Shutdown => (TaskState.Queued, null),
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
            var markWritten = mark.Settle();
            await FinishAsync(spec, state, result, error, markWritten ? null : startedAt, markWritten ? null : attempts);
            await mark.WrittenAsync();
            var active = ranFor - running.Gate.PausedTime;
            Finished?.Invoke(spec, state, active > TimeSpan.Zero ? active : TimeSpan.Zero);
            CpuUsed?.Invoke(spec, context.CpuTime.Measured?.TotalSeconds ?? spec.Requirements.Cpu * Math.Max(active.TotalSeconds, 0));
        }
        catch (Exception e)
        {
            Log.TaskCrashed(_logger, e, spec.TaskId);
        }
        finally
        {
            lock (_lock)
            {
                _ledger.Release(spec.TaskId);
                if (_holdFor is not null)
                {
                    // What this task gave back goes first to the task next in line, up to what it asks.
                    _held = _held.Plus(ResourceAmounts.From(spec.Requirements)).Min(_holdRequest);
                }

                _running.Remove(spec.TaskId);
            }

            // Only now: pausing and resuming touch the timeout under the lock, and only for tasks in _running.
            running.Timeout.Dispose();

            TryDeleteDirectory(scratch);
            running.Completion.TrySetResult();
            Pump();
        }
    }

    private async Task FinishAsync(TaskSpec spec, TaskState state, JsonObject? result, string? error, DateTimeOffset? startedAt = null, int? attempts = null)
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

        await StoreFinalStateAsync(() => _store.MarkFinishedAsync(spec.TaskId, state, finishedAt, finishedAt + _options.ResultRetentionPeriod, resultText, digest, error, startedAt, attempts), spec.TaskId);
        if (resultText is not null)
        {
            lock (_lock)
            {
                _storedBytes += Encoding.UTF8.GetByteCount(resultText);
            }
        }

        var record = _store.Get(spec.TaskId);
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
    }

    /// <summary>Makes <paramref name="taskId"/> the task next in line (keeping what is held when it already is); returns it. Call under the lock.</summary>
    private string HoldFor(string taskId, ResourceAmounts request)
    {
        if (_holdFor != taskId)
        {
            _holdFor = taskId;
            _holdRequest = request;
            _held = NoResources;
        }

        return taskId;
    }

    /// <summary>
    /// The task's scratch directory: named by the SHA-256 of its id, so that no id can name a path outside
    /// the scratch root and two ids never share a directory ("job:1" and "job_1" would, by a character swap).
    /// </summary>
    private string ScratchDirectory(string taskId) =>
        Path.Combine(_scratchRoot, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(taskId))));

    private static void TryDeleteDirectory(string path)
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
            // A scratch directory that cannot be removed now is removed at the next start.
        }
        catch (UnauthorizedAccessException)
        {
        }
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

        public RunningMark(TaskEngine engine, string taskId, DateTimeOffset startedAt, int attempts) =>
            _timer = engine._time.CreateTimer(
                _ =>
                {
                    if (Interlocked.Exchange(ref _settled, 1) == 0)
                    {
                        _write = engine._store.MarkRunningAsync(taskId, startedAt, attempts);
                    }
                },
                null,
                RunningMarkDelay,
                Timeout.InfiniteTimeSpan);

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

    private void Unbudget(long size)
    {
        lock (_lock)
        {
            _queuedBytes -= size;
            _storedBytes -= size;
        }
    }

    private sealed class QueueEntry(TaskSpec spec, long sequence, int attempts, DateTimeOffset enqueuedAt, long payloadBytes)
    {
        public static readonly IComparer<QueueEntry> Order = Comparer<QueueEntry>.Create(static (a, b) =>
        {
            var byPriority = b.Spec.Priority.CompareTo(a.Spec.Priority);
            return byPriority != 0 ? byPriority : a.Sequence.CompareTo(b.Sequence);
        });

        public TaskSpec Spec { get; } = spec;

        public long Sequence { get; } = sequence;

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
