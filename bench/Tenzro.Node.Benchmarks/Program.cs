using BenchmarkDotNet.Running;

namespace Tenzro.Node.Benchmarks;

/// <summary>
/// Micro benchmarks (BenchmarkDotNet). Run all with
/// <c>dotnet run -c Release --project bench/Tenzro.Node.Benchmarks -- --filter '*'</c>. The DHT simulation:
/// <c>dotnet run -c Release --project bench/Tenzro.Node.Benchmarks -- dht-sim NODES LOSS LATENCY_MS LOOKUPS SEED</c>. The worker's
/// round trip: <c>worker-roundtrip NODE_DLL JOBS ROUNDS</c>.
/// </summary>
internal static class Program
{
    public static void Main(string[] args)
    {
        if (args is ["dht-sim", ..])
        {
            Dht.DhtSimulationBenchmark.Run(args[1..]);
            return;
        }

        if (args is ["worker-roundtrip", ..])
        {
            Onnx.WorkerRoundTripBenchmark.Run(args[1..]);
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
