using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Resources;

[Trait("Suite", "resources")]
public sealed class ResourceLedgerTests
{
    [Fact]
    public void TryReserve_BeyondFree_FailsAndReleaseFreesExactlyOnce()
    {
        var ledger = new ResourceLedger(new ResourceAmounts(2, 1024, 0, 0, 0), TimeProvider.System);

        Assert.True(ledger.TryReserve("a", new ResourceAmounts(1.5, 512, 0, 0, 0), out _));
        Assert.False(ledger.TryReserve("b", new ResourceAmounts(1, 256, 0, 0, 0), out _));
        Assert.True(ledger.Release("a"));
        Assert.False(ledger.Release("a"));
        Assert.Equal(new ResourceAmounts(2, 1024, 0, 0, 0), ledger.Free);
    }

    [Fact]
    public void ReservationOf_HeldThenReleased_ReturnsTheTasksOwnReservationThenNull()
    {
        var ledger = new ResourceLedger(new ResourceAmounts(2, 1024, 0, 0, 0), TimeProvider.System);
        ledger.TryReserve("a", new ResourceAmounts(0.5, 128, 0, 0, 0), out _);
        ledger.TryReserve("b", new ResourceAmounts(1, 256, 0, 0, 0), out _);

        var held = ledger.ReservationOf("b");
        ledger.Release("b");

        Assert.Equal(new ResourceAmounts(1, 256, 0, 0, 0), held!.Amounts);
        Assert.Null(ledger.ReservationOf("b"));
        Assert.Null(ledger.ReservationOf("unknown"));
        Assert.NotNull(ledger.ReservationOf("a"));
    }

    [Fact]
    public void Hold_TakesFromWhatIsFreeAndLettingGoGivesItBack()
    {
        var ledger = new ResourceLedger(new ResourceAmounts(2, 1024, 0, 0, 0), TimeProvider.System);

        ledger.Hold("workers:onnx", ResourceAmounts.None with { MemoryMB = 300 });
        ledger.Hold("workers:train", ResourceAmounts.None with { MemoryMB = 100 });
        var refused = ledger.TryReserve("a", new ResourceAmounts(1, 700, 0, 0, 0), out _);
        var freeWhileHeld = ledger.Free;
        ledger.Hold("workers:onnx", ResourceAmounts.None);

        Assert.False(refused);
        Assert.Equal(new ResourceAmounts(2, 624, 0, 0, 0), freeWhileHeld);
        Assert.Equal(["workers:train"], ledger.Holders.Keys);
        Assert.Equal(ResourceAmounts.None with { MemoryMB = 100 }, ledger.Held);
        Assert.True(ledger.TryReserve("a", new ResourceAmounts(1, 700, 0, 0, 0), out _));
        Assert.Equal(new ResourceAmounts(0, 0, 0, 0, 0) with { Cpu = 1, MemoryMB = 1024 - 700 - 100 }, ledger.Free);
    }

    [Fact]
    public void Hold_MoreThanIsFree_IsNeverRefusedAndLeavesFreeNegative()
    {
        var ledger = new ResourceLedger(new ResourceAmounts(2, 1024, 0, 0, 0), TimeProvider.System);
        Assert.True(ledger.TryReserve("a", new ResourceAmounts(1, 1000, 0, 0, 0), out _));

        ledger.Hold("workers:onnx", ResourceAmounts.None with { MemoryMB = 100 });

        Assert.Equal(-76, ledger.Free.MemoryMB);
        Assert.False(ledger.TryReserve("b", new ResourceAmounts(0.1, 1, 0, 0, 0), out _));
    }

    [Fact]
    public void Shortfalls_NameEveryResourceAskedBeyondTheAmount()
    {
        var allowed = new ResourceAmounts(2, 1024, 100, 0, 0);

        var shortfalls = allowed.Shortfalls(new ResourceAmounts(4, 2048, 10, 1, 0)).Select(s => s.Resource).ToList();

        Assert.Equal(["cpu", "memoryMB", "gpuCount"], shortfalls);
    }

    [Fact]
    public async Task TryReserve_ManyThreadsAtRandom_NeverExceedsCapacityAndEndsEmpty()
    {
        var capacity = new ResourceAmounts(8, 8192, 1000, 2, 4096);
        var ledger = new ResourceLedger(capacity, TimeProvider.System);
        var violations = 0;
        var workers = Enumerable.Range(0, 8).Select(worker => Task.Run(() =>
        {
            var random = new Random(worker);
            for (var i = 0; i < 5000; i++)
            {
                var id = $"{worker}-{i}";
                var request = new ResourceAmounts(random.Next(1, 5) * 0.5, random.Next(1, 4096), random.Next(0, 400), random.Next(0, 2), random.Next(0, 2048));
                if (ledger.TryReserve(id, request, out _))
                {
                    var free = ledger.Free;
                    if (free.Cpu < -1e-9 || free.MemoryMB < 0 || free.StorageMB < 0 || free.GpuCount < 0 || free.GpuMemoryMB < 0)
                    {
                        Interlocked.Increment(ref violations);
                    }

                    Thread.SpinWait(random.Next(10, 200));
                    ledger.Release(id);
                }
            }
        })).ToArray();

        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(0, violations);
        Assert.Empty(ledger.Reservations);
        Assert.Equal(capacity.MemoryMB, ledger.Free.MemoryMB);
        Assert.Equal(capacity.Cpu, ledger.Free.Cpu, 6);
    }
}
