using BenchmarkDotNet.Attributes;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Benchmarks.Micro;

/// <summary>Reserve/release pairs on the resource ledger from 1 and from 4 threads at once.</summary>
[MemoryDiagnoser]
public class LedgerBenchmarks
{
    private const int OperationsPerThread = 10_000;
    private readonly ResourceAmounts _request = new(0.5, 128, 0, 0, 0);
    private ResourceLedger _ledger = null!;
    private string[] _ids = null!;

    [Params(1, 4)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _ledger = new ResourceLedger(new ResourceAmounts(64, 1 << 20, 1 << 20, 0, 0), TimeProvider.System);
        _ids = Enumerable.Range(0, Threads * OperationsPerThread).Select(i => $"t-{i}").ToArray();
    }

    [Benchmark(OperationsPerInvoke = OperationsPerThread)]
    public void ReserveRelease() => Parallel.For(0, Threads, thread =>
    {
        for (var i = 0; i < OperationsPerThread; i++)
        {
            var id = _ids[(thread * OperationsPerThread) + i];
            _ledger.TryReserve(id, _request, out _);
            _ledger.Release(id);
        }
    });
}
