using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Tasks;

/// <summary>
/// A run that may crash the process finds its attempt already stored, so a task that kills the node is failed after
/// MAX_TASK_ATTEMPTS restarts (the real kill is in the integration tests' PoisonTaskProcessTests).
/// </summary>
[Trait("Suite", "tasks")]
public sealed class PoisonTaskTests
{
    [Theory]
    [InlineData(true, "running", 1)]
    [InlineData(false, "queued", 0)]
    public async Task Run_RuntimeThatMayCrashTheProcess_FindsItsAttemptStoredBeforeItStarts(bool mayCrash, string storedState, int storedAttempts)
    {
        var probe = new StoredStateProbe(mayCrash);
        await using var node = await TestNode.StartAsync(configure: builder => builder.Services.AddSingleton<ITaskRuntime>(probe));
        probe.Store = node.Service<TaskStore>();

        var (_, body) = await node.Client.SubmitAsync("""{"taskId":"poison-1","type":"probe"}""");
        await node.Client.WaitFinalAsync(body!["taskId"]!.GetValue<string>());

        var seen = Assert.Single(probe.Seen);
        Assert.Equal((storedState, storedAttempts), seen);
    }

    /// <summary>Type "probe": records the stored state and attempts of its task as its run begins.</summary>
    private sealed class StoredStateProbe(bool mayCrash) : ITaskRuntime
    {
        public TaskStore? Store { get; set; }

        public ConcurrentQueue<(string State, int Attempts)> Seen { get; } = new();

        public IReadOnlyCollection<string> Types { get; } = ["probe"];

        public bool MayCrashTheProcess => mayCrash;

        public void Validate(TaskSpec task, ValidationErrors errors)
        {
        }

        public Task<JsonObject> ExecuteAsync(TaskExecutionContext context)
        {
            var record = Store!.Get(context.Task.TaskId)!;
            Seen.Enqueue((record.State.ToWire(), record.Attempts));
            return Task.FromResult(new JsonObject());
        }
    }
}
