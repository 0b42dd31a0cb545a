using System.Text.Json.Nodes;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Runtimes.Wasm;

namespace Tenzro.Node.Tests.Runtimes.Wasm;

/// <summary>A compute task's CPU: held to its fraction of a core, and measured for the CPU-seconds quota.</summary>
[Trait("Suite", "wasm")]
public sealed class WasmCpuTests : IDisposable
{
    /// <summary>Counts to 2^63: spins until its fuel, deadline or cancellation stops it.</summary>
    private const string Spin = """
        (module (func (export "spin") (local $i i64)
          (loop $again
            (local.set $i (i64.add (local.get $i) (i64.const 1)))
            (br_if $again (i64.lt_u (local.get $i) (i64.const 0x7FFFFFFFFFFFFFFF))))))
        """;

    private readonly WasmSandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    [Fact]
    public async Task TwoSpinTasksWithAHundredthOfACore_UseNoMoreThanTheirShare()
    {
        var tasks = Enumerable.Range(0, 2).Select(_ => WasmSandbox.Task(WasmSandbox.Call(Spin, "spin"), new JsonObject { ["fuel"] = 1e18 }, ResourceAmounts.TaskDefault with { Cpu = 0.01, MemoryMB = 16 })).ToList();
        if (!ThreadCpu.CanLimit)
        {
            // Where no quota can hold a thread, a compute task must reserve the whole core its thread can use.
            var errors = new ValidationErrors();
            _sandbox.Runtime.Validate(tasks[0], errors);
            Assert.Contains("ask for at least 1", errors.ToString(), StringComparison.Ordinal);
            return;
        }

        // Each runs for 2 s of wall time; without the quota each would use about 2 s of CPU.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var contexts = tasks.Select(t => _sandbox.Context(t, stop.Token)).ToList();

        foreach (var run in contexts.Select(c => _sandbox.Runtime.ExecuteAsync(c).WaitAsync(Support.Timeouts.Short)).ToList())
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        }

        foreach (var context in contexts)
        {
            var used = Assert.NotNull(context.CpuTime.Measured);
            Assert.InRange(used.TotalSeconds, 0, 0.5);
        }
    }

    [Fact]
    public async Task Task_MeasuresTheCpuTimeOfItsThread()
    {
        var task = WasmSandbox.Task(WasmSandbox.Call(Spin, "spin"), new JsonObject { ["fuel"] = 200_000_000 }, ResourceAmounts.TaskDefault with { Cpu = 1, MemoryMB = 16 });
        var context = _sandbox.Context(task);

        var failure = await Assert.ThrowsAsync<WasmTaskException>(() => _sandbox.Runtime.ExecuteAsync(context).WaitAsync(Support.Timeouts.Short));

        Assert.Equal(WasmFailure.OutOfFuel, failure.Failure);
        Assert.True(context.CpuTime.Measured > TimeSpan.Zero, $"measured {context.CpuTime.Measured}");
    }
}
