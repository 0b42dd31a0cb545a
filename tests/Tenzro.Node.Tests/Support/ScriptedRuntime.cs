using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Tests.Support;

/// <summary>
/// A task type "script" for engine tests, registered beside the real runtimes: <c>data.action</c> is
/// "complete" (returns <c>data.value</c>), "fail" (throws with <c>data.reason</c>), "hang" (runs until
/// cancelled), or "gate" (waits until the test opens the gate named <c>data.gate</c>). It records the
/// order in which tasks started. Given another <paramref name="type"/>, it takes the place of that type's
/// runtime (the regional node may assign only the protocol's task types).
/// </summary>
public sealed class ScriptedRuntime(string type = "script") : ITaskRuntime
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _gates = new();

    public IReadOnlyCollection<string> Types { get; } = [type];

    public ConcurrentQueue<string> Started { get; } = new();

    /// <summary>As a runtime in worker processes declares: its runs start while their submission commits (true) or after.</summary>
    public bool StartsBeforeStored { get; init; }

    /// <summary>As Wasmtime in the node's process declares: its runs begin while their submission commits and wait on the start gate before the task's code.</summary>
    public bool PreparesBeforeStored { get; init; }

    /// <summary>Whether a task of a fraction of a core counts as held to it (the run slots for eight such tasks a core).</summary>
    public bool HoldsCpuFraction { get; init; }

    /// <summary>Native code in the process, as by default; false with <see cref="StartsBeforeStored"/>.</summary>
    public bool MayCrashTheProcess => !StartsBeforeStored;

    /// <summary>The tasks whose runs reached this runtime, before their start gate (<see cref="Started"/> is after it).</summary>
    public ConcurrentQueue<string> Prepared { get; } = new();

    /// <summary>For each task that started, whether its store held it as running with its attempt counted at that moment.</summary>
    public ConcurrentDictionary<string, bool> StoredAtStart { get; } = new();

    /// <summary>Where <see cref="StoredAtStart"/> looks; set by the test.</summary>
    public ITaskStore? Store { get; set; }

    public void Validate(TaskSpec task, ValidationErrors errors)
    {
        if (task.Data["action"]?.GetValue<string>() is not ("complete" or "fail" or "hang" or "gate" or "short" or "unreachable" or "oom"))
        {
            errors.Add("data.action", "must be complete, fail, hang, gate, short, unreachable or oom.");
        }
    }

    public void Open(string gate) => Gate(gate).TrySetResult();

    public async Task<JsonObject> ExecuteAsync(TaskExecutionContext context)
    {
        Prepared.Enqueue(context.Task.TaskId);
        if (!context.StartGate.IsOpen)
        {
            // The gate's wait blocks its thread, as the Wasm runtime's does on its own thread.
            await Task.Run(() => context.StartGate.Wait(context.CancellationToken), context.CancellationToken);
        }

        if (Store?.Get(context.Task.TaskId) is { } record)
        {
            StoredAtStart[context.Task.TaskId] = record is { State: TaskState.Running, Attempts: > 0 };
        }

        Started.Enqueue(context.Task.TaskId);
        var data = context.Task.Data;
        switch (data["action"]!.GetValue<string>())
        {
            case "fail":
                throw new TaskExecutionException(data["reason"]?.GetValue<string>() ?? "scripted failure");
            case "short":
                throw new ResourceError(ResourceShortage.DiskFull, data["reason"]?.GetValue<string>() ?? "scripted shortage");
            case "unreachable":
                throw new NetworkError(NetworkFailure.PeerUnreachable, data["reason"]?.GetValue<string>() ?? "scripted peer failure");
            case "oom":
                throw new OutOfMemoryException("scripted: the array was too large");
            case "hang":
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
                break;
            case "gate":
                context.Progress.Report(0.5);
                await Gate(data["gate"]!.GetValue<string>()).Task.WaitAsync(context.CancellationToken);
                break;
        }

        return new JsonObject { ["value"] = data["value"]?.DeepClone() };
    }

    private TaskCompletionSource Gate(string name) => _gates.GetOrAdd(name, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>Starts a test node with this runtime registered; returns both.</summary>
    public static async Task<(TestNode Node, ScriptedRuntime Runtime)> StartNodeAsync(IDictionary<string, string?>? overrides = null, string? dataDirectory = null)
    {
        var runtime = new ScriptedRuntime();
        var node = await TestNode.StartAsync(overrides, dataDirectory, builder => builder.Services.AddSingleton<ITaskRuntime>(runtime));
        return (node, runtime);
    }
}
