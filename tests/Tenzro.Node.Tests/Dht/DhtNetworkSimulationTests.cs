using Tenzro.Node.Core.Dht;
using Xunit.Abstractions;

namespace Tenzro.Node.Tests.Dht;

/// <summary>A thousand Kademlia nodes on a virtual clock, with latency and churn (issue: lookups find the true closest).</summary>
public sealed class DhtNetworkSimulationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Lookups_ThousandNodesWithTenPercentChurn_FindTheTrueClosestInFewHops()
    {
        await Task.Run(() =>
        {
            var network = DhtSimulation.Build(1000, seed: 19, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(60));
            DhtSimulation.Churn(network, 0.10);

            var (found, hops, _) = DhtSimulation.Lookups(network, 200);

            var median = DhtSimulation.Median(hops);
            output.WriteLine($"table {network.Alive.Average(n => n.RoutingTableSize):F0}");
            output.WriteLine(string.Join(" ", hops.GroupBy(h => h).OrderBy(g => g.Key).Select(g => $"{g.Key}:{g.Count()}")));
            output.WriteLine($"found {found:P1} of the true 20 closest, median hops {median}, {network.Messages} messages");
            Assert.True(found >= 0.95, $"lookups found {found:P1} of the true 20 closest nodes (at least 95 %)");
            Assert.True(median <= Math.Log2(network.Alive.Count) / 2, $"median hops {median} above log2(N)/2 = {Math.Log2(network.Alive.Count) / 2:F2}");
        }).WaitAsync(TimeSpan.FromMinutes(2));
    }
}
