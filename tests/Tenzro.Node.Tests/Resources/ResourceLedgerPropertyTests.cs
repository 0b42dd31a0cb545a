using CsCheck;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Resources;

/// <summary>Properties of the reservation ledger over generated sequences of reserve, release and limit changes.</summary>
[Trait("Suite", "resources")]
public sealed class ResourceLedgerPropertyTests
{
    private static readonly ResourceAmounts Capacity = new(8, 16384, 100000, 2, 16000);

    private static readonly Gen<ResourceAmounts> Request = Gen.Select(Gen.Double[0.01, 4], Gen.Long[0, 8192], Gen.Long[0, 50000], Gen.Int[0, 2], Gen.Long[0, 8000])
        .Select((cpu, memory, storage, gpus, gpuMemory) => new ResourceAmounts(cpu, memory, storage, gpus, gpuMemory));

    /// <summary>0: reserve task k; 1: release task k; 2: lower or lift the limit.</summary>
    private static readonly Gen<(int Kind, int Task, ResourceAmounts Amounts)[]> Operations =
        Gen.Select(Gen.Int[0, 2], Gen.Int[0, 9], Request).Array[1, 60];

    [Fact]
    public void Ledger_AnySequence_ReservedIsTheSumOfReservationsAndReleasingAllGivesEverythingBack() =>
        Operations.Sample(operations =>
        {
            var ledger = new ResourceLedger(Capacity, TimeProvider.System);
            foreach (var (kind, task, amounts) in operations)
            {
                var id = $"t{task}";
                switch (kind)
                {
                    case 0:
                        var wasHeld = ledger.Reservations.Any(r => r.TaskId == id);
                        var fits = ledger.Free.Fits(amounts);
                        var reserved = ledger.TryReserve(id, amounts, out _);
                        Assert.Equal(wasHeld || fits, reserved);
                        break;
                    case 1:
                        ledger.Release(id);
                        break;
                    default:
                        ledger.SetLimit(amounts.Cpu > 2 ? null : amounts);
                        break;
                }

                var sum = ledger.Reservations.Aggregate(new ResourceAmounts(0, 0, 0, 0, 0), (total, r) => total.Plus(r.Amounts));
                Assert.Equal(sum.MemoryMB, ledger.Reserved.MemoryMB);
                Assert.Equal(sum.GpuCount, ledger.Reserved.GpuCount);
                Assert.Equal(sum.Cpu, ledger.Reserved.Cpu, 9);
                Assert.True(ledger.Reserved.MemoryMB <= Capacity.MemoryMB && ledger.Reserved.Cpu <= Capacity.Cpu + 1e-9);
            }

            foreach (var reservation in ledger.Reservations)
            {
                Assert.True(ledger.Release(reservation.TaskId));
            }

            Assert.Empty(ledger.Reservations);
            Assert.Equal(0, ledger.Reserved.MemoryMB);
            Assert.Equal(0, ledger.Reserved.Cpu, 9);
            Assert.True(ledger.Free.Fits(Capacity.Min(ledger.Allowed)));
        }, iter: 2000);
}
