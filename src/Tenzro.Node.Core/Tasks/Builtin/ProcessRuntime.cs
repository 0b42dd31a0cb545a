using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks.Builtin.Process;

namespace Tenzro.Node.Core.Tasks.Builtin;

/// <summary>
/// The <c>process</c> task: runs a pipeline of built-in operations (map, filter, sort, distinct, group,
/// reduce, hash) over <c>data.input</c> and returns <c>{"output": …}</c>. See docs/TASKS.md.
/// </summary>
/// <remarks>Stateless and thread-safe. Deterministic: equal tasks give equal results on every node.</remarks>
internal sealed class ProcessRuntime : ITaskRuntime
{
    public IReadOnlyCollection<string> Types { get; } = ["process"];

    /// <summary>Managed code only: the attempt is stored with the first write, not before the run.</summary>
    public bool MayCrashTheProcess => false;

    public void Validate(TaskSpec task, ValidationErrors errors) => _ = ProcessPipeline.Build(task, errors);

    public Task<JsonObject> ExecuteAsync(TaskExecutionContext context) =>
        Task.Run(
            () => context.CpuTime.Measure(() =>
            {
                var errors = new ValidationErrors();
                var pipeline = ProcessPipeline.Build(context.Task, errors) ?? throw new TaskExecutionException(errors.ToString());
                var output = pipeline.Run(context.Task.Data["input"]!.AsArray(), context.Progress, context.CancellationToken);
                return new JsonObject { ["output"] = output };
            }),
            context.CancellationToken);
}
