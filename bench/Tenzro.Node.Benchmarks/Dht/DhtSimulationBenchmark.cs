using System.Diagnostics;
using System.Globalization;
using Tenzro.Node.Tests.Dht;

namespace Tenzro.Node.Benchmarks.Dht;

/// <summary>
/// The DHT on the in-memory network of the unit tests, on a virtual clock: N nodes join through the first, 10 % churn
/// (as many leave as join), then random lookups from random nodes. Prints the share of the true 20 closest found,
/// median hops (rounds sent), lookup durations and messages per lookup (virtual time: the per-message latency is simulated).
/// </summary>
internal static class DhtSimulationBenchmark
{
    public static void Run(string[] args)
    {
        var nodes = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
        var loss = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 0.01;
        var latency = TimeSpan.FromMilliseconds(args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 50);
        var lookups = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 200;
        var seed = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 19;
        var watch = Stopwatch.StartNew();
        var network = DhtSimulation.Build(nodes, seed, latency, latency, loss);
        DhtSimulation.Churn(network, 0.10);
        var built = watch.Elapsed;
        var before = network.Messages;
        var (found, hops, durations) = DhtSimulation.Lookups(network, lookups);
        var perLookup = (network.Messages - before) / (double)lookups;
        var sorted = durations.Order().ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"dht-sim nodes={nodes} loss={loss} latency={latency.TotalMilliseconds}ms lookups={lookups} seed={seed}: found {found:P2} of the true 20 closest, " +
            $"median hops {DhtSimulation.Median(hops)}, lookup p50 {sorted[sorted.Length / 2].TotalMilliseconds:F0} ms p99 {sorted[(int)(sorted.Length * 0.99)].TotalMilliseconds:F0} ms (virtual), " +
            $"{perLookup:F1} messages per lookup, built in {built.TotalSeconds:F0} s"));
    }
}
