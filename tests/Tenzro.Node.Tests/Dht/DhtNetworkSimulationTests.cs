using Tenzro.Node.Core.Dht;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Tests.Peers;
using Xunit.Abstractions;

namespace Tenzro.Node.Tests.Dht;

/// <summary>A thousand Kademlia nodes on a virtual clock, with latency and churn (issue: lookups find the true closest).</summary>
[Trait("Suite", "dht")]
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
            output.WriteLine($"found {found:P1} of the true 20 closest, median hops {median}, {network.Messages} messages");
            Assert.True(found >= 0.95, $"lookups found {found:P1} of the true 20 closest nodes (at least 95 %)");
            Assert.True(median <= Math.Log2(network.Alive.Count) / 2, $"median hops {median} above log2(N)/2 = {Math.Log2(network.Alive.Count) / 2:F2}");
        }).WaitAsync(TimeSpan.FromMinutes(2));
    }

    [Fact]
    public async Task Records_AfterTheirPublishersHalfTheirHoldersAndTenPercentOfAllNodesLeave_AreAllStillFound()
    {
        await Task.Run(() =>
        {
            var network = DhtSimulation.Build(600, seed: 23, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(60));
            var identities = Enumerable.Range(0, 10).Select(_ => NodeIdentity.CreateEphemeral()).ToList();
            try
            {
                var first = network.EndpointOf(network.Alive.First());
                var records = identities.Select((identity, i) =>
                {
                    var node = network.Add(DhtId.Parse(identity.NodeId)).Node;
                    network.Run(node.JoinAsync([first]));
                    var content = NodeRecordTests.Content() with { Tier = i < 5 ? "training" : "inference" };
                    var record = NodeRecord.Create(identity, content, 1, network.Clock.GetUtcNow().AddHours(1));
                    network.Run(node.PublishAsync(record));
                    return record;
                }).ToList();

                // The publishers leave, then half of the nodes that hold each record, then a tenth of the rest; as many join.
                var publishers = records.Select(r => DhtId.Parse(r.Id)).ToHashSet();
                foreach (var node in network.Alive.Where(n => publishers.Contains(n.Self)).ToList())
                {
                    network.Remove(node);
                }

                // (A node that holds two of the records is spared, so that no record loses more than half by another's turn.)
                var keys = records.Select(r => (Key: DhtId.Parse(r.Id), r.Id)).ToList();
                foreach (var (key, id) in keys)
                {
                    var holders = network.Alive.Where(n => n.Holds(key, id) && keys.Count(k => n.Holds(k.Key, k.Id)) == 1);
                    foreach (var holder in holders.OrderBy(n => n.Self, Comparer<DhtId>.Create(key.CompareDistance)).Take(10).ToList())
                    {
                        network.Remove(holder);
                    }
                }

                DhtSimulation.Churn(network, 0.10);
                var askers = network.Alive.ToList();
                var found = records.Count(r => network.Run(network.Pick(askers).FindRecordAsync(DhtId.Parse(r.Id)))?.Seq == r.Seq);
                var training = network.Run(network.Pick(askers).FindTierAsync("training", "us-east"));

                Assert.Equal(records.Count, found);
                Assert.Equal(records.Take(5).Select(r => r.Id).Order(), training.Records.Select(r => r.Id).Order());
            }
            finally
            {
                identities.ForEach(i => i.Dispose());
            }
        }).WaitAsync(TimeSpan.FromMinutes(2));
    }

    [Fact]
    public async Task Records_NodesJoiningCloserToTheirKey_AreHandedThemAndKeepThemFoundOnceTheHoldersBeforeLeave()
    {
        await Task.Run(() =>
        {
            var network = DhtSimulation.Build(150, seed: 29, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(60));
            using var identity = NodeIdentity.CreateEphemeral();
            var first = network.EndpointOf(network.Alive.First());
            var publisher = network.Add(DhtId.Parse(identity.NodeId)).Node;
            network.Run(publisher.JoinAsync([first]));
            var record = NodeRecord.Create(identity, NodeRecordTests.Content(), 1, network.Clock.GetUtcNow().AddHours(1));
            network.Run(publisher.PublishAsync(record));
            network.Remove(publisher);
            var key = DhtId.Parse(record.Id);
            var holdersBefore = network.Alive.Where(n => n.Holds(key, record.Id)).ToList();

            // Twenty nodes join whose ids share all but the last byte with the key: closer to it than any node before.
            var newcomers = Enumerable.Range(1, 20).Select(i =>
            {
                var bytes = key.ToBytes();
                bytes[^1] ^= (byte)i;
                var node = network.Add(DhtId.FromBytes(bytes)).Node;
                network.Run(node.JoinAsync([first]));
                return node;
            }).ToList();
            network.Clock.Advance(TimeSpan.FromSeconds(5));

            Assert.NotEmpty(holdersBefore);
            Assert.Equal(newcomers.Count, newcomers.Count(n => n.Holds(key, record.Id)));
            holdersBefore.ForEach(network.Remove);
            var found = network.Run(network.Pick(network.Alive.Except(newcomers).ToList()).FindRecordAsync(key));
            Assert.Equal(record.Seq, found?.Seq);
        }).WaitAsync(TimeSpan.FromMinutes(1));
    }
}
