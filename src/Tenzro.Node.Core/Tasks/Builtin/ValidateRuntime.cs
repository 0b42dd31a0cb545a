using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Core.Tasks.Builtin;

/// <summary>
/// The <c>validate</c> task: re-executes a task in this process, through the runtime of its type, and
/// compares the digest of the new result with the expected one: <c>{"match", "expected", "actual"}</c>.
/// The task is <c>data.taskId</c> (a completed task on this node; expected is its stored digest, or
/// <c>data.expectedDigest</c> when given) or <c>data.task</c> (a full task object) with <c>data.expectedDigest</c>.
/// </summary>
/// <remarks>
/// Thread-safe. The other runtimes are resolved from <see cref="IServiceProvider"/> on first use, not in the
/// constructor, because this runtime is itself one of the <see cref="ITaskRuntime"/> services. A validate
/// task is never re-executed, so validations cannot nest. The re-executed task is checked as the engine
/// checks a submission (its runtime and the ledger's maximum), and its requirements must fit in this task's:
/// it runs within this task's reservation (its memory and scratch limits come from its own requirements, so
/// they are no larger than this task's) and deadline, with its own scratch directory (below this task's) and
/// its own timeout. Only tasks of this task's origin can be named by <c>data.taskId</c>.
/// </remarks>
internal sealed class ValidateRuntime : ITaskRuntime
{
    private const string OwnType = "validate";
    private readonly ITaskStore _store;
    private readonly TaskOptions _options;
    private readonly IResourceLedger _ledger;
    private readonly TimeProvider _time;
    private readonly Lazy<IReadOnlyDictionary<string, ITaskRuntime>> _runtimes;

    public ValidateRuntime(IServiceProvider services, ITaskStore store, TaskOptions options, IResourceLedger ledger, TimeProvider time)
    {
        _store = store;
        _options = options;
        _ledger = ledger;
        _time = time;
        _runtimes = new Lazy<IReadOnlyDictionary<string, ITaskRuntime>>(
            () =>
            {
                var byType = new Dictionary<string, ITaskRuntime>(StringComparer.Ordinal);
                foreach (var runtime in services.GetServices<ITaskRuntime>())
                {
                    if (ReferenceEquals(runtime, this))
                    {
                        continue;
                    }

                    foreach (var type in runtime.Types)
                    {
                        byType[type] = runtime;
                    }
                }

                return byType;
            },
            LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public IReadOnlyCollection<string> Types { get; } = [OwnType];

    public void Validate(TaskSpec task, ValidationErrors errors) => _ = Read(task, errors, checkStore: true);

    public async Task<JsonObject> ExecuteAsync(TaskExecutionContext context)
    {
        var errors = new ValidationErrors();
        var request = Read(context.Task, errors, checkStore: false) ?? throw new TaskExecutionException(errors.ToString());
        var (target, expected, what) = request.TaskId is { } taskId ? Stored(taskId, request.ExpectedDigest, context.Task.Owner) : (request.Task!, request.ExpectedDigest!, "the task in data.task");
        if (!_runtimes.Value.TryGetValue(target.Type, out var runtime))
        {
            throw new TaskExecutionException($"{what} has type '{target.Type}', which this node does not run");
        }

        // Checked again here: a stored task was admitted under the ledger of its own time, and against its own requirements only.
        var fit = new ValidationErrors();
        CheckFits(target, context.Task, "requirements", what, fit);
        if (!fit.IsEmpty)
        {
            throw new TaskExecutionException($"{what} cannot be re-executed within this task's reservation: {fit}");
        }

        var scratch = Path.Combine(context.ScratchDirectory, "rerun");
        using var timeout = new CancellationTokenSource(target.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, timeout.Token);
        var ownDeadline = _time.GetUtcNow() + target.Timeout;
        var rerun = new TaskExecutionContext
        {
            Task = target,
            CancellationToken = linked.Token,
            Deadline = ownDeadline < context.Deadline ? ownDeadline : context.Deadline,
            Progress = context.Progress,
            ScratchDirectory = scratch,
            CpuTime = context.CpuTime,
        };

        JsonObject result;
        try
        {
            result = await runtime.ExecuteAsync(rerun).WaitAsync(linked.Token);
        }
        catch (Exception e) when (timeout.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw new TaskExecutionException($"re-executing {what} took longer than its timeout of {target.Timeout.TotalSeconds} s", e);
        }
        catch (TaskExecutionException e) when (!context.CancellationToken.IsCancellationRequested)
        {
            throw new TaskExecutionException($"re-executing {what} failed: {e.Message}", e);
        }
        finally
        {
            TaskScratch.TryDelete(scratch);
        }

        string actual;
        try
        {
            // The same steps as the engine's digest of a stored result.
            using var document = JsonDocument.Parse(result.ToJsonString());
            actual = CanonicalJson.Digest(document.RootElement);
        }
        catch (FormatException e)
        {
            throw new TaskExecutionException($"the result of re-executing {what} cannot be represented as canonical JSON: {e.Message}", e);
        }

        context.Progress.Report(1);
        return new JsonObject
        {
            ["match"] = string.Equals(expected, actual, StringComparison.Ordinal),
            ["expected"] = expected,
            ["actual"] = actual,
        };
    }

    private (TaskSpec Task, string Expected, string What) Stored(string taskId, string? expectedDigest, string reader)
    {
        var what = $"task '{taskId}'";

        var record = Readable(taskId, reader) ?? throw new TaskExecutionException($"data.taskId: no task '{taskId}' is known on this node");
        if (record.Spec.Type == OwnType)
        {
            throw new TaskExecutionException($"data.taskId: {what} is a validate task; a validate task cannot itself be validated");
        }

        if (record.State != TaskState.Completed)
        {
            throw new TaskExecutionException($"data.taskId: {what} is {record.State.ToWire()}, not completed; only a completed task has a digest to compare");
        }

        if (record.Digest is null || record.Result is null)
        {
            throw new TaskExecutionException($"data.taskId: the result of {what} has expired (RESULT_RETENTION_PERIOD), so it cannot be re-executed");
        }

        return (record.Spec, expectedDigest ?? record.Digest, what);
    }

    /// <summary>Reads and checks the request. <paramref name="checkStore"/> refuses, at submission, a taskId that names a validate task.</summary>
    private Request? Read(TaskSpec task, ValidationErrors errors, bool checkStore)
    {
        var data = task.Data;
        var valid = true;
        string? expectedDigest = null;
        if (data["expectedDigest"] is not null)
        {
            if (new JsonFields(data, "data", errors).OptionalString("expectedDigest", "must be a string of 64 hex digits.") is not { } digestText)
            {
                valid = false;
            }
            else
            {
                expectedDigest = digestText.ToLowerInvariant();
                if (expectedDigest.Length != 64 || !expectedDigest.All(char.IsAsciiHexDigitLower))
                {
                    errors.Add("data.expectedDigest", "must be a sha256 digest: 64 hex digits, as in the 'digest' of a task result.");
                    valid = false;
                }
            }
        }

        switch (data["taskId"], data["task"])
        {
            case (null, null):
                errors.Add("data.taskId", "is required: the id of a completed task on this node; or give data.task (a task object) with data.expectedDigest.");
                return null;
            case ({ }, { }):
                errors.Add("data.task", "give either data.taskId or data.task, not both.");
                return null;
            case ({ } idNode, null):
                if (idNode.GetValueKind() != JsonValueKind.String || idNode.GetValue<string>().Length == 0)
                {
                    errors.AddTypeError("data.taskId", "must be a task id (a non-empty string).");
                    return null;
                }

                var taskId = idNode.GetValue<string>();
                var stored = checkStore ? Readable(taskId, task.Owner) : null;
                if (stored is { Spec.Type: OwnType })
                {
                    errors.Add("data.taskId", $"'{taskId}' is a validate task; a validate task cannot itself be validated.");
                    return null;
                }

                if (stored is not null)
                {
                    CheckFits(stored.Spec, task, "requirements", $"task '{taskId}'", errors);
                    valid &= errors.IsEmpty;
                }

                return valid ? new Request(taskId, null, expectedDigest) : null;
            case (null, var taskNode):
                if (taskNode is not JsonObject body)
                {
                    errors.AddTypeError("data.task", "must be a task object, e.g. {\"type\":\"process\",\"data\":{…}}.");
                    return null;
                }

                if (expectedDigest is null && valid)
                {
                    errors.Add("data.expectedDigest", "is required with data.task: the digest the task's result should have.");
                    valid = false;
                }

                var target = ReadTask(body, task, errors);
                return valid && target is not null ? new Request(null, target, expectedDigest) : null;
        }
    }

    private TaskSpec? ReadTask(JsonObject body, TaskSpec outer, ValidationErrors errors)
    {
        var inner = new ValidationErrors();
        var runtimes = _runtimes.Value;
        var spec = TaskParser.Parse(body, _options.TaskTimeout, [.. runtimes.Keys, OwnType], outer.Origin, inner);
        if (spec is not null && spec.Type == OwnType)
        {
            errors.Add("data.task.type", "is validate; a validate task cannot itself be validated.");
            return null;
        }

        if (spec is not null && runtimes.TryGetValue(spec.Type, out var runtime))
        {
            CheckFits(spec, outer, "requirements", "the task", inner);
            runtime.Validate(spec, inner);
        }

        foreach (var (field, messages) in inner.ToDictionary())
        {
            foreach (var message in messages)
            {
                if (inner.HasTypeErrors)
                {
                    errors.AddTypeError($"data.task.{field}", message);
                }
                else
                {
                    errors.Add($"data.task.{field}", message);
                }
            }
        }

        return inner.IsEmpty ? spec : null;
    }

    /// <summary>A stored task that <paramref name="reader"/> (the validate task's owner) may read; a task of another owner is as unknown as a missing one.</summary>
    private TaskRecord? Readable(string taskId, string reader) =>
        _store.Get(taskId) is { } record && TaskOwners.MayRead(reader, record.Spec.Owner) ? record : null;

    /// <summary>
    /// Adds an error under <paramref name="field"/> for each resource in which <paramref name="target"/> asks for
    /// more than the ledger could ever give (as <see cref="TaskEngine.Validate"/>) or than <paramref name="outer"/> reserves.
    /// </summary>
    private void CheckFits(TaskSpec target, TaskSpec outer, string field, string subject, ValidationErrors errors)
    {
        var request = target.Requirements;
        foreach (var (resource, asked, available) in _ledger.Maximum.Shortfalls(request))
        {
            errors.Add($"{field}.{resource}", $"{subject} asks for {asked} but this node allows at most {available}; the task can never run here.");
        }

        foreach (var (resource, asked, available) in outer.Requirements.Shortfalls(request))
        {
            errors.Add($"{field}.{resource}", $"{subject} asks for {asked} but this validate task reserves {available}; the re-execution runs within the validate task's reservation, so requirements.{resource} of the validate task must be at least {asked}.");
        }
    }

    private sealed record Request(string? TaskId, TaskSpec? Task, string? ExpectedDigest);
}
