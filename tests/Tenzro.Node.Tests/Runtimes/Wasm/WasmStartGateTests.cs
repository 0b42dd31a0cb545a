using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Runtimes.Wasm;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Runtimes.Wasm;

/// <summary>
/// A compute run is handed to its thread while its attempt commits, and nothing of the task runs before that commit: not
/// its start function, not its entry, not the compiler on a module that is not compiled yet.
/// </summary>
[Trait("Suite", "tasks")]
public sealed class WasmStartGateTests : IDisposable
{
    private const string TrappingStart = """(module (func $start unreachable) (start $start) (func (export "f") (result i32) i32.const 7))""";

    private readonly WasmSandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    private Task<System.Text.Json.Nodes.JsonObject> Execute(string wat, TaskStartGate gate, CancellationToken cancellation = default)
    {
        var task = WasmSandbox.Task(WasmSandbox.Call(wat, "f"));
        return _sandbox.Runtime.ExecuteAsync(new TaskExecutionContext
        {
            Task = task,
            CancellationToken = cancellation,
            Deadline = DateTimeOffset.UtcNow + task.Timeout,
            Progress = new ProgressLog(),
            ScratchDirectory = Path.Combine(_sandbox.Directory, "scratch", task.TaskId),
            StartGate = gate,
        });
    }

    private static TaskRecord Stored() => new()
    {
        Spec = WasmSandbox.Task(new System.Text.Json.Nodes.JsonObject()),
        ContentHash = "stored",
        SubmittedAt = DateTimeOffset.UtcNow,
        State = TaskState.Running,
        Attempts = 1,
    };

    [Fact]
    public async Task Execute_CompiledModule_GateNotOpen_ItsStartFunctionWaitsForTheGate()
    {
        // Compiled and cached by a first run, which traps in its start function.
        await Assert.ThrowsAsync<WasmTaskException>(() => Execute(TrappingStart, TaskStartGate.Open).WaitAsync(Timeouts.Short));
        var stored = new TaskCompletionSource<TaskRecord?>();

        var run = Execute(TrappingStart, new TaskStartGate(stored.Task));
        await Task.Delay(200, Timeouts.Token());
        var endedBeforeTheGate = run.IsCompleted;
        stored.SetResult(Stored());
        var trap = await Assert.ThrowsAsync<WasmTaskException>(() => run.WaitAsync(Timeouts.Short));

        Assert.False(endedBeforeTheGate, "the start function ran before the attempt was stored");
        Assert.Contains("unreachable", trap.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Execute_ModuleNotCompiledYet_TheCompilerWaitsForTheGate()
    {
        var stored = new TaskCompletionSource<TaskRecord?>();
        const string Wat = """(module (func (export "f") (result i32) i32.const 41 i32.const 1 i32.add))""";

        var run = Execute(Wat, new TaskStartGate(stored.Task));
        await Task.Delay(200, Timeouts.Token());
        var compiledBeforeTheGate = _sandbox.Cache.Compilations;
        stored.SetResult(Stored());
        var result = await run.WaitAsync(Timeouts.Short);

        Assert.Equal(0, compiledBeforeTheGate);
        Assert.Equal(42, result["returns"]![0]!.GetValue<int>());
        Assert.Equal(1, _sandbox.Cache.Compilations);
    }

    [Fact]
    public async Task Execute_TaskNotStored_StopsWithoutRunningOrCompilingAnything()
    {
        var stored = new TaskCompletionSource<TaskRecord?>();
        var run = Execute(TrappingStart, new TaskStartGate(stored.Task));
        await Task.Delay(50, Timeouts.Token());

        stored.SetResult(null);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(Timeouts.Short));
        Assert.Equal(0, _sandbox.Cache.Compilations);
    }

    [Fact]
    public async Task Execute_StoppedWhileWaitingForTheGate_EndsAtOnce()
    {
        using var stop = new CancellationTokenSource();
        var run = Execute(TrappingStart, new TaskStartGate(new TaskCompletionSource<TaskRecord?>().Task), stop.Token);
        await Task.Delay(50, Timeouts.Token());

        await stop.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(Timeouts.Short));
    }
}
