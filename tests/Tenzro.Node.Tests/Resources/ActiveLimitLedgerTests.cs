using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Tests.Resources;

/// <summary>The ledger's limit and the planner that chooses which running tasks to pause.</summary>
[Trait("Suite", "resources")]
public sealed class ActiveLimitLedgerTests
{
    private static ResourceAmounts Cpu(double cores, long memoryMB = 0) => new(cores, memoryMB, 0, 0, 0);

    [Fact]
    public void SetLimit_BelowWhatIsHeld_KeepsReservationsAndReservesNothingMoreUntilReleased()
    {
        var ledger = new ResourceLedger(Cpu(4, 4096), TimeProvider.System);
        Assert.True(ledger.TryReserve("a", Cpu(2, 1024), out _));
        Assert.True(ledger.TryReserve("b", Cpu(1, 1024), out _));

        ledger.SetLimit(ResourceAmounts.Unlimited with { Cpu = 2 });
        var kept = ledger.Reservations.Select(r => r.TaskId).Order().ToList();
        var overLimit = ledger.TryReserve("c", Cpu(0.5), out _);
        var free = ledger.Free;
        ledger.Release("a");
        var afterRelease = ledger.TryReserve("c", Cpu(0.5), out _);
        var tooMuch = ledger.TryReserve("d", Cpu(1), out _);

        Assert.Equal(["a", "b"], kept);
        Assert.Equal(["b", "c"], ledger.Reservations.Select(r => r.TaskId).Order());
        Assert.False(overLimit);
        Assert.Equal(-1, free.Cpu, 6);
        Assert.True(afterRelease);
        Assert.False(tooMuch);
        Assert.Equal(Cpu(1.5, 1024), ledger.Reserved);
        Assert.Equal(Cpu(2, 4096), ledger.Allowed);
    }

    [Fact]
    public void SetLimit_Null_RestoresTheMaximum()
    {
        var ledger = new ResourceLedger(Cpu(4, 4096), TimeProvider.System);

        ledger.SetLimit(Cpu(1, 8192));
        var limited = ledger.Allowed;
        ledger.SetLimit(null);

        Assert.Equal(Cpu(1, 4096), limited);
        Assert.Equal(ledger.Maximum, ledger.Allowed);
    }

    [Fact]
    public async Task TryReserve_LimitSwitchingUnderLoad_NeverHoldsMoreThanTheMaximumAndEndsEmpty()
    {
        var maximum = new ResourceAmounts(8, 8192, 1000, 0, 0);
        var active = new ResourceAmounts(2, 2048, 1000, 0, 0);
        var ledger = new ResourceLedger(maximum, TimeProvider.System);
        var violations = 0;
        using var stop = new CancellationTokenSource();
        var switcher = Task.Run(() =>
        {
            var random = new Random(99);
            while (!stop.IsCancellationRequested)
            {
                ledger.SetLimit(random.Next(2) == 0 ? active : null);
                Thread.SpinWait(random.Next(50, 500));
            }
        });
        var workers = Enumerable.Range(0, 6).Select(worker => Task.Run(() =>
        {
            var random = new Random(worker);
            for (var i = 0; i < 4000; i++)
            {
                var id = $"{worker}-{i}";
                if (ledger.TryReserve(id, new ResourceAmounts(random.Next(1, 5) * 0.5, random.Next(1, 2048), random.Next(0, 200), 0, 0), out _))
                {
                    var reserved = ledger.Reserved;
                    if (reserved.Cpu > maximum.Cpu + 1e-9 || reserved.MemoryMB > maximum.MemoryMB || reserved.StorageMB > maximum.StorageMB)
                    {
                        Interlocked.Increment(ref violations);
                    }

                    Thread.SpinWait(random.Next(10, 200));
                    ledger.Release(id);
                }
            }
        })).ToArray();

        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));
        await stop.CancelAsync();
        await switcher.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(0, violations);
        Assert.Empty(ledger.Reservations);
        Assert.Equal(0, ledger.Reserved.Cpu, 6);
    }

    [Fact]
    public void TryReserve_WhileLimited_NeverTakesTheTotalAboveTheLimit()
    {
        var ledger = new ResourceLedger(Cpu(8, 8192), TimeProvider.System);
        ledger.SetLimit(Cpu(2, 2048));
        var taken = 0;

        for (var i = 0; i < 50; i++)
        {
            if (ledger.TryReserve($"t{i}", Cpu(0.3, 100), out _))
            {
                taken++;
            }
        }

        Assert.Equal(6, taken);
        Assert.True(ledger.Reserved.Cpu <= 2 + 1e-9);
    }

    [Fact]
    public void TasksToPause_NoLimit_PausesNothing()
    {
        Assert.Empty(PausePlanner.TasksToPause([new("a", Cpu(4), 1, true)], null));
    }

    [Fact]
    public void TasksToPause_OverTheLimit_PausesTheNewestThatDoNotFit()
    {
        PauseCandidate[] running =
        [
            new("oldest", Cpu(1, 512), 1, true),
            new("middle", Cpu(2, 512), 2, true),
            new("newest", Cpu(1, 512), 3, true),
        ];

        var paused = PausePlanner.TasksToPause(running, new RunLimit(Cpu(2, 4096), "user active"));

        Assert.Equal(["middle"], paused.Order());
    }

    [Fact]
    public void TasksToPause_MemoryOverTheLimit_PausesUntilMemoryFits()
    {
        PauseCandidate[] running = [new("a", Cpu(0.5, 1024), 1, true), new("b", Cpu(0.5, 1024), 2, true), new("c", Cpu(0.5, 1024), 3, true)];

        var paused = PausePlanner.TasksToPause(running, new RunLimit(Cpu(8, 2048), "user active"));

        Assert.Equal(["c"], paused);
    }

    [Fact]
    public void TasksToPause_TaskThatCannotPause_CountsFirstAndIsNeverPaused()
    {
        PauseCandidate[] running = [new("wasm", Cpu(1), 1, true), new("builtin", Cpu(1.5), 2, false)];

        var paused = PausePlanner.TasksToPause(running, new RunLimit(Cpu(2), "user active"));

        Assert.Equal(["wasm"], paused);
    }

    [Fact]
    public void TasksToPause_PauseEverything_PausesEveryPausableTask()
    {
        PauseCandidate[] running = [new("a", Cpu(0.01), 1, true), new("b", Cpu(0), 2, true), new("builtin", Cpu(1), 3, false)];

        var paused = PausePlanner.TasksToPause(running, new RunLimit(null, "RUN_ONLY_WHEN_IDLE"));

        Assert.Equal(["a", "b"], paused.Order());
    }
}
