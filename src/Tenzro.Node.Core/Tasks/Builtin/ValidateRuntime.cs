using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Json;

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
/// task is never re-executed, so validations cannot nest. The re-execution gets its own scratch directory
/// (below this task's) and its own timeout (the re-executed task's), and runs within this task's
/// reservation and deadline.
/// </remarks>
internal sealed class ValidateRuntime : ITaskRuntime
{
    private const string OwnType = "validate";
    private readonly TaskStore _store;
    private readonly TaskOptions _options;
    private readonly TimeProvider _time;
    private readonly Lazy<IReadOnlyDictionary<string, ITaskRuntime>> _runtimes;

    public ValidateRuntime(IServiceProvider services, TaskStore store, TaskOptions options, TimeProvider time)
    {
        _store = store;
        _options = options;
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
            TryDelete(scratch);
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

        // A task of another owner is as unknown as a missing one.
        var record = (_store.Get(taskId) is { } found && TaskOwners.MayRead(reader, found.Spec.Owner) ? found : null) ?? throw new TaskExecutionException($"data.taskId: no task '{taskId}' is known on this node");
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
        if (data["expectedDigest"] is { } digestNode)
        {
            if (digestNode.GetValueKind() != JsonValueKind.String)
            {
                errors.AddTypeError("data.expectedDigest", "must be a string of 64 hex digits.");
                valid = false;
            }
            else
            {
                expectedDigest = digestNode.GetValue<string>().ToLowerInvariant();
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
                if (checkStore && _store.Get(taskId) is { Spec.Type: OwnType })
                {
                    errors.Add("data.taskId", $"'{taskId}' is a validate task; a validate task cannot itself be validated.");
                    return null;
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

                var target = ReadTask(body, task.Origin, errors);
                return valid && target is not null ? new Request(null, target, expectedDigest) : null;
        }
    }

    private TaskSpec? ReadTask(JsonObject body, string origin, ValidationErrors errors)
    {
        var inner = new ValidationErrors();
        var runtimes = _runtimes.Value;
        var spec = TaskParser.Parse(body, _options.TaskTimeout, [.. runtimes.Keys, OwnType], origin, inner);
        if (spec is not null && spec.Type == OwnType)
        {
            errors.Add("data.task.type", "is validate; a validate task cannot itself be validated.");
            return null;
        }

        if (spec is not null && runtimes.TryGetValue(spec.Type, out var runtime))
        {
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

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
            // The engine removes the whole scratch directory of this task when it ends.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private sealed record Request(string? TaskId, TaskSpec? Task, string? ExpectedDigest);
}
