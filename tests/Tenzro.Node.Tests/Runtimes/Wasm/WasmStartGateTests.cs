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
        var hitsBefore = _sandbox.Cache.MemoryHits;

        var run = Execute(TrappingStart, new TaskStartGate(stored.Task));
        await Task.Delay(200, Timeouts.Token());
        var endedBeforeTheGate = run.IsCompleted;
        var tookTheCompiledModule = _sandbox.Cache.MemoryHits > hitsBefore;
        stored.SetResult(Stored());
        var trap = await Assert.ThrowsAsync<WasmTaskException>(() => run.WaitAsync(Timeouts.Short));

        Assert.True(tookTheCompiledModule, "the run did not find its module compiled, so it stopped at the compiler's gate, not at the start function's");
        Assert.Equal(1, _sandbox.Cache.Compilations);
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
    public async Task Execute_CommandWithStdinAndScratch_GateNotOpen_WritesNothingToTheScratchDirectory()
    {
        const string Wat = """(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32))) (memory (export "memory") 1) (func (export "_start") i32.const 0 call $exit))""";
        var stored = new TaskCompletionSource<TaskRecord?>();
        TaskExecutionContext Context(TaskStartGate gate)
        {
            var task = WasmSandbox.Task(new System.Text.Json.Nodes.JsonObject { ["wat"] = Wat, ["stdin"] = "input" }, new System.Text.Json.Nodes.JsonObject { ["scratch"] = true }, Tenzro.Node.Core.Resources.ResourceAmounts.TaskDefault with { StorageMB = 1 });
            return new TaskExecutionContext
            {
                Task = task,
                CancellationToken = CancellationToken.None,
                Deadline = DateTimeOffset.UtcNow + task.Timeout,
                Progress = new ProgressLog(),
                ScratchDirectory = Path.Combine(_sandbox.Directory, "scratch", task.TaskId),
                StartGate = gate,
            };
        }

        // Compiled by a first run, so that the second goes on to its set-up before the gate.
        await _sandbox.Runtime.ExecuteAsync(Context(TaskStartGate.Open)).WaitAsync(Timeouts.Short);
        var context = Context(new TaskStartGate(stored.Task));
        var run = _sandbox.Runtime.ExecuteAsync(context);
        await Task.Delay(200, Timeouts.Token());
        var madeBeforeTheGate = Directory.Exists(context.ScratchDirectory);
        stored.SetResult(null);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(Timeouts.Short));
        Assert.False(madeBeforeTheGate, "the run made the task's scratch directory before its attempt was stored");
        Assert.False(Directory.Exists(context.ScratchDirectory));
    }

    [Fact]
    public async Task Wait_RunStoppedAsItsTaskIsStored_GoesNoFurther()
    {
        using var stop = new CancellationTokenSource();
        await stop.CancelAsync();
        var stored = new TaskCompletionSource<TaskRecord?>();
        var gate = new TaskStartGate(stored.Task);
        stored.SetResult(Stored());

        Assert.True(gate.IsOpen);
        Assert.Throws<OperationCanceledException>(() => gate.Wait(stop.Token));
        Assert.Throws<OperationCanceledException>(() => TaskStartGate.Open.Wait(stop.Token));
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
