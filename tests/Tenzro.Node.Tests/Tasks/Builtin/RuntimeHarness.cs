using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Tests.Tasks.Builtin;

/// <summary>Runs a task runtime directly, as the engine would: parse, validate, execute under a timeout.</summary>
internal static class RuntimeHarness
{
    public static TaskSpec Spec(ITaskRuntime runtime, string taskJson)
    {
        var errors = new ValidationErrors();
        var spec = TaskParser.Parse(JsonNode.Parse(taskJson)!.AsObject(), TimeSpan.FromMinutes(30), runtime.Types, TaskOrigins.Api, errors);
        Assert.True(errors.IsEmpty, errors.ToString());
        return spec!;
    }

    /// <summary>The validation errors the runtime reports for the task (empty when it is accepted).</summary>
    public static ValidationErrors Validate(ITaskRuntime runtime, string taskJson)
    {
        var errors = new ValidationErrors();
        runtime.Validate(Spec(runtime, taskJson), errors);
        return errors;
    }

    public static async Task<JsonObject> ExecuteAsync(ITaskRuntime runtime, string taskJson, RecordingProgress? progress = null, CancellationToken? cancellationToken = null)
    {
        var spec = Spec(runtime, taskJson);
        var errors = new ValidationErrors();
        runtime.Validate(spec, errors);
        Assert.True(errors.IsEmpty, errors.ToString());
        var context = new TaskExecutionContext
        {
            Task = spec,
            CancellationToken = cancellationToken ?? Support.Timeouts.Token(),
            Deadline = DateTimeOffset.UtcNow + Support.Timeouts.Short,
            Progress = progress ?? new RecordingProgress(),
            ScratchDirectory = Path.Combine(Path.GetTempPath(), "tenzro-scratch-" + Guid.NewGuid().ToString("N")[..12]),
        };
        return await runtime.ExecuteAsync(context).WaitAsync(Support.Timeouts.Short);
    }

    /// <summary>The message of the <see cref="TaskExecutionException"/> the task fails with.</summary>
    public static async Task<string> FailureAsync(ITaskRuntime runtime, string taskJson)
    {
        var e = await Assert.ThrowsAsync<TaskExecutionException>(() => ExecuteAsync(runtime, taskJson));
        return e.Message;
    }

    /// <summary>The result's <c>output</c> (process) or <c>value</c> (aggregate) as compact JSON.</summary>
    public static string Json(JsonNode? node) => node?.ToJsonString() ?? "null";
}

/// <summary>Keeps every progress report, synchronously (unlike <see cref="Progress{T}"/>).</summary>
internal sealed class RecordingProgress : IProgress<double>
{
    private readonly List<double> _values = [];

    public IReadOnlyList<double> Values
    {
        get
        {
            lock (_values)
            {
                return [.. _values];
            }
        }
    }

    public void Report(double value)
    {
        lock (_values)
        {
            _values.Add(value);
        }
    }
}
