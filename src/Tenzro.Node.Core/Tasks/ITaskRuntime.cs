using System.Text.Json.Nodes;

namespace Tenzro.Node.Core.Tasks;

/// <summary>
/// Runs one or more task types. Implementations with native dependencies (Wasmtime, ONNX Runtime)
/// live in Tenzro.Node.Runtimes; the core ones (process, aggregate, store, validate) live here.
/// </summary>
/// <remarks>Implementations must be thread-safe: up to MAX_CONCURRENT_TASKS executions run at once.</remarks>
public interface ITaskRuntime
{
    /// <summary>The task types this runtime executes (e.g. "compute").</summary>
    IReadOnlyCollection<string> Types { get; }

    /// <summary>
    /// Checks a task's <c>data</c> and <c>config</c> before it is accepted; adds one error per bad field
    /// (field names like <c>data.entry</c>). Must not do expensive work beyond parsing.
    /// </summary>
    void Validate(TaskSpec task, ValidationErrors errors);

    /// <summary>
    /// Executes the task and returns its result object (the <c>result</c> whose canonical JSON is digested).
    /// Throws <see cref="TaskExecutionException"/> for a task that fails with a reason; must stop promptly
    /// when <see cref="TaskExecutionContext.CancellationToken"/> fires (timeout, cancellation, shutdown).
    /// </summary>
    Task<JsonObject> ExecuteAsync(TaskExecutionContext context);
}

/// <summary>What a runtime gets for one execution.</summary>
public sealed class TaskExecutionContext
{
    public required TaskSpec Task { get; init; }

    /// <summary>Fires at the deadline, on cancellation and on shutdown.</summary>
    public required CancellationToken CancellationToken { get; init; }

    /// <summary>Absolute time at which the task times out.</summary>
    public required DateTimeOffset Deadline { get; init; }

    /// <summary>Reports progress in 0..1; cheap to call often (rate-limited by the engine).</summary>
    public required IProgress<double> Progress { get; init; }

    /// <summary>A per-task empty directory, deleted after the task ends. Created on first use.</summary>
    public required string ScratchDirectory { get; init; }
}

/// <summary>A task failed for a reason the user should see (bad module, trap, out of fuel...).</summary>
public class TaskExecutionException(string message, Exception? inner = null) : Exception(message, inner);
