using Tenzro.Node.Core.Dht;

namespace Tenzro.Node.Tests.Dht;

/// <summary>Builds and measures simulated DHTs (shared by the tests and the benchmark).</summary>
internal static class DhtSimulation
{
    /// <summary><paramref name="count"/> nodes, each joining through the first, in waves that run concurrently.</summary>
    public static SimulatedNetwork Build(int count, int seed, TimeSpan minLatency, TimeSpan maxLatency, double loss = 0)
    {
        var network = new SimulatedNetwork(seed, minLatency, maxLatency, loss);
        var (_, first) = network.Add();
        for (var joined = 1; joined < count;)
        {
            var wave = Math.Min(Math.Max(1, joined), count - joined);
            var joins = Enumerable.Range(0, wave).Select(_ => network.Add().Node.JoinAsync([first])).ToList();
            network.RunAll(joins);
            joined += wave;
        }

        return network;
    }

    /// <summary><paramref name="fraction"/> of the nodes leave and as many new ones join (through a random live node).</summary>
    public static void Churn(SimulatedNetwork network, double fraction, ISet<DhtId>? keep = null)
    {
        var nodes = network.Alive.Where(n => keep is null || !keep.Contains(n.Self)).ToArray();
        network.Shuffle(nodes);
        var leaving = (int)(network.Alive.Count * fraction);
        foreach (var node in nodes.Take(leaving))
        {
            network.Remove(node);
        }

        var live = network.Alive.ToList();
        var joins = Enumerable.Range(0, leaving).Select(_ => network.Add().Node.JoinAsync([network.EndpointOf(network.Pick(live))])).ToList();
        network.RunAll(joins);
    }

    /// <summary>Runs <paramref name="count"/> lookups of random ids from random live nodes: the share of the true k closest found, and each lookup's hops.</summary>
    public static (double Found, List<int> Hops, List<TimeSpan> Durations) Lookups(SimulatedNetwork network, int count)
    {
        var nodes = network.Alive.ToList();
        var found = 0.0;
        var hops = new List<int>();
        var durations = new List<TimeSpan>();
        for (var i = 0; i < count; i++)
        {
            var target = network.RandomId();
            var truth = network.TrueClosest(target, network.Options.K);
            var result = network.Run(network.Pick(nodes).LookupAsync(target));
            found += result.Closest.Count(c => truth.Contains(c.Id)) / (double)truth.Count;
            hops.Add(result.Hops);
            durations.Add(result.Duration);
        }

        return (found / count, hops, durations);
    }

    public static double Median(IEnumerable<int> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2.0;
    }
}
