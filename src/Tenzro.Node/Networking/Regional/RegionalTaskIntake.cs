using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Regional;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Networking.Regional;

/// <summary>A progress change of a regional task, in percent.</summary>
internal readonly record struct ProgressUpdate(string TaskId, int Percent);

/// <summary>
/// Tasks between the regional node and the local engine: admits <c>task_assignment</c>s through the same
/// durable queue as the API (origin "regional"), and writes every answer that must reach the regional node
/// (task_accepted, task_rejected, the final task_progress, task_completed, task_failed) to the durable
/// <see cref="RegionalOutbox"/>, whatever the state of the link. Intermediate progress is not durable: it is
/// offered to the link through <see cref="TryTakeProgress"/> and dropped when no link is joined.
/// </summary>
/// <remarks>
/// Thread-safe. Ordering: a task's <c>task_accepted</c> row is always written before its final row, because
/// the final row is written by one consumer loop that waits for the task's admission to finish.
/// </remarks>
internal sealed partial class RegionalTaskIntake : BackgroundService
{
    // Regional tasks are owned by the regional node and are not charged to a requester's CPU quota.
    private static readonly TaskSubmitter Submitter = new(TaskOrigins.Regional, TaskOrigins.Regional, TaskOwners.Regional);

    private readonly TaskEngine _engine;
    private readonly TaskAdmission _admission;
    private readonly RegionalOutbox _outbox;
    private readonly NodeIdentity _identity;
    private readonly TaskOptions _tasks;
    private readonly TimeProvider _time;
    private readonly ILogger<RegionalTaskIntake> _logger;

    private readonly RegionalFinishedTasks _finished;

    // Intermediate progress is a gauge: when the link cannot keep up, the oldest values are the ones to lose.
    private readonly Channel<ProgressUpdate> _progress = Channel.CreateBounded<ProgressUpdate>(
        new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    // One pending wake-up is enough: the link drains everything each time it wakes.
    private readonly Channel<bool> _work = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    private readonly ConcurrentDictionary<string, TaskCompletionSource> _admitting = new(StringComparer.Ordinal);

    // Regional tasks whose task_accepted is written and whose final row is not: the ones progress is reported for.
    private readonly ConcurrentDictionary<string, int> _active = new(StringComparer.Ordinal);

    public RegionalTaskIntake(TaskEngine engine, TaskAdmission admission, RegionalOutbox outbox, RegionalFinishedTasks finished, NodeIdentity identity, TaskOptions tasks, TimeProvider time, ILogger<RegionalTaskIntake> logger)
    {
        _finished = finished;
        _engine = engine;
        _admission = admission;
        _outbox = outbox;
        _identity = identity;
        _tasks = tasks;
        _time = time;
        _logger = logger;
        _outbox.Appended += Poke;
    }

    /// <summary>Set when the node stops: assignments are then rejected.</summary>
    public bool Stopping { get; set; }

    /// <summary>Fills gaps a crash may have left (a task admitted or ended without its outbox row), then starts the loops.</summary>
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        Reconcile();
        return base.StartAsync(cancellationToken);
    }

    /// <summary>Waits until there is something to send (an outbox row or progress). Called by the link's single sender.</summary>
    public async Task WaitForWorkAsync(CancellationToken cancellationToken) => await _work.Reader.ReadAsync(cancellationToken);

    /// <summary>Takes the next intermediate progress update, if any.</summary>
    public bool TryTakeProgress(out ProgressUpdate update) => _progress.Reader.TryRead(out update);

    /// <summary>True while the task's progress may be reported: accepted and not yet final.</summary>
    public bool IsActive(string taskId) => _active.ContainsKey(taskId);

    /// <summary>
    /// Handles one <c>task_assignment</c>: maps and validates the task, admits it into the durable queue, and
    /// writes <c>task_accepted</c> or <c>task_rejected</c> (with the reason) to the outbox.
    /// </summary>
    /// <returns>The outbox row written, or null when the assignment carried no task id to answer.</returns>
    public async Task<OutboxEntry?> HandleAssignmentAsync(JsonObject message)
    {
        if (message["task"] is not JsonObject task || RegionalMessages.StringMember(task, "taskId") is not { Length: > 0 } taskId)
        {
            LogAssignmentWithoutTaskId(_logger);
            return null;
        }

        var type = RegionalMessages.StringMember(task, "type");
        if (Stopping)
        {
            return Reject(taskId, "the node is shutting down");
        }

        if (type is null)
        {
            return Reject(taskId, "the task has no type");
        }

        if (!RegionalTaskMapper.ProtocolTypes.Contains(type))
        {
            return Reject(taskId, $"task type '{type}' is not a task type of the regional protocol ({string.Join(", ", RegionalTaskMapper.ProtocolTypes.Order(StringComparer.Ordinal))})");
        }

        if (!_engine.Types.Contains(type))
        {
            return Reject(taskId, $"task type '{type}' is not run by this node; it runs {string.Join(", ", _engine.Types.Order(StringComparer.Ordinal))}");
        }

        JsonObject body;
        try
        {
            var errors = new ValidationErrors();
            body = RegionalTaskMapper.ToLocal(task, _time.GetUtcNow(), _tasks.TaskTimeout, errors);
            if (!errors.IsEmpty)
            {
                return Reject(taskId, $"invalid task: {errors}");
            }
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or System.Text.Json.JsonException or ArgumentException)
        {
            return Reject(taskId, $"the task cannot be read: {e.Message}");
        }

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _admitting[taskId] = gate;
        try
        {
            var outcome = await _admission.AdmitAsync(body, Submitter, AlignWithExisting);
            switch (outcome.Status)
            {
                case AdmissionStatus.Invalid:
                    return Reject(taskId, outcome.Reason!);
                case AdmissionStatus.Refused:
                    return Reject(taskId, $"not taking tasks: {outcome.Reason}");
                case AdmissionStatus.Conflict:
                    return Reject(taskId, $"taskId '{taskId}' is already used on this node by a task with different content");
            }

            // Accepted again on a repeated assignment: the regional node stores the assigning validator's task
            // object afresh (its acceptedNodes empty, PROTOCOL.md 5 and 7), so it must hear the accept again.
            var accepted = Append(RegionalMessages.TaskAccepted(_identity.PeerId, taskId));
            var record = outcome.Status == AdmissionStatus.Existing ? outcome.View!.Record : null;
            if (record is not null && record.State.IsFinal())
            {
                // A repeated assignment of a task that already ended: the regional node gets its outcome again.
                AppendFinal(record);
            }
            else
            {
                _active.TryAdd(taskId, -1);
            }

            LogAccepted(_logger, taskId, outcome.Spec!.Type, outcome.Status == AdmissionStatus.Existing);
            return accepted;
        }
        finally
        {
            _admitting.TryRemove(taskId, out _);
            gate.TrySetResult();
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(ReportFinishedAsync(stoppingToken), WatchProgressAsync(stoppingToken));

    public override void Dispose()
    {
        _outbox.Appended -= Poke;
        base.Dispose();
    }

    private OutboxEntry Reject(string taskId, string reason)
    {
        LogRejected(_logger, taskId, reason);
        return Append(RegionalMessages.TaskRejected(_identity.PeerId, taskId, reason));
    }

    private OutboxEntry Append(JsonObject message) =>
        _outbox.Append(RegionalMessages.TypeOf(message)!, RegionalMessages.StringMember(message, "taskId"), message);

    /// <summary>Writes the final report of an ended task: progress 100 and task_completed, or task_failed.</summary>
    private void AppendFinal(TaskRecord record)
    {
        _active.TryRemove(record.TaskId, out _);
        if (record.State == TaskState.Completed)
        {
            Append(RegionalMessages.TaskProgress(_identity.PeerId, record.TaskId, 100));
            Append(RegionalMessages.TaskCompleted(_identity.PeerId, record.TaskId, record.Result, record.Digest));
        }
        else
        {
            Append(RegionalMessages.TaskFailed(_identity.PeerId, record.TaskId, record.Error ?? $"the task ended {record.State.ToWire()}"));
        }
    }

    /// <summary>
    /// The timeout of a regional task is derived from its expiry, so a repeated assignment of the same task
    /// maps to another timeout; it keeps the stored one, so that it is recognised as the same task.
    /// </summary>
    private TaskSpec AlignWithExisting(TaskSpec spec)
    {
        var existing = _engine.Get(spec.TaskId);
        if (existing is null || existing.Spec.Origin != TaskOrigins.Regional || existing.Spec.Timeout == spec.Timeout)
        {
            return spec;
        }

        var candidate = spec with { Timeout = existing.Spec.Timeout };
        return TaskParser.ContentHash(candidate) == existing.ContentHash ? candidate : spec;
    }

    private void Poke() => _work.Writer.TryWrite(true);

    private async Task ReportFinishedAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var taskId in _finished.Reader.ReadAllAsync(stoppingToken))
            {
                try
                {
                    if (_admitting.TryGetValue(taskId, out var gate))
                    {
                        await gate.Task.WaitAsync(stoppingToken);
                    }

                    var record = _engine.Get(taskId);
                    if (record is null || !record.State.IsFinal() || _outbox.HasFinal(taskId))
                    {
                        continue;
                    }

                    AppendFinal(record);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogReportFailed(_logger, e, taskId);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task WatchProgressAsync(CancellationToken stoppingToken)
    {
        using var subscription = _engine.Events.Subscribe(null);
        try
        {
            await foreach (var change in subscription.Reader.ReadAllAsync(stoppingToken))
            {
                if (change.Kind != "progress" || change.Progress is not { } progress)
                {
                    continue;
                }

                // A task may report progress before its admission has written task_accepted: wait for that first.
                if (_admitting.TryGetValue(change.TaskId, out var gate))
                {
                    await gate.Task.WaitAsync(stoppingToken);
                }

                if (!_active.TryGetValue(change.TaskId, out var last))
                {
                    continue;
                }

                var percent = (int)Math.Floor(Math.Clamp(progress, 0, 1) * 100);
                if (percent != last && percent < 100 && _active.TryUpdate(change.TaskId, percent, last))
                {
                    _progress.Writer.TryWrite(new ProgressUpdate(change.TaskId, percent));
                    Poke();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void Reconcile()
    {
        var restored = 0;
        foreach (var task in _outbox.RegionalTasks())
        {
            var final = TaskStates.TryParse(task.State, out var state) && state.IsFinal();
            if (!task.Accepted)
            {
                Append(RegionalMessages.TaskAccepted(_identity.PeerId, task.TaskId));
                restored++;
            }

            if (final && !task.Reported && _engine.Get(task.TaskId) is { } record)
            {
                AppendFinal(record);
                restored++;
            }
            else if (!final)
            {
                _active.TryAdd(task.TaskId, -1);
            }
        }

        var pruned = _outbox.PruneSent(_time.GetUtcNow() - _tasks.ResultRetentionPeriod);
        if (restored > 0 || pruned > 0)
        {
            LogReconciled(_logger, restored, pruned);
        }
    }
}
