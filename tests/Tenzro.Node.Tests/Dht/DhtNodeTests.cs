using Tenzro.Node.Core.Dht;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Tests.Peers;

namespace Tenzro.Node.Tests.Dht;

[Trait("Suite", "dht")]
public sealed class DhtNodeTests
{
    [Fact]
    public async Task Receive_NewcomerToAFullBucket_StaysOutWhileTheOldestAnswersAndReplacesItOnceItDoesNot()
    {
        await Task.Run(() =>
        {
            var network = new SimulatedNetwork(7, TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(20));
            var (node, endpoint) = network.Add();
            var members = Enumerable.Range(0, 20).Select(_ => network.Add(node.Self.RandomInBucket(0))).ToList();
            foreach (var (member, _) in members)
            {
                network.Run(member.PingAsync(endpoint));
            }

            var first = network.Add(node.Self.RandomInBucket(0)).Node;
            network.Run(first.PingAsync(endpoint));
            network.Clock.Advance(TimeSpan.FromSeconds(5));
            var keptOut = !node.Entries().Any(e => e.Contact.Id == first.Self);

            var oldest = members.Single(m => m.Node.Self == node.Entries()[0].Contact.Id).Node;
            network.Remove(oldest);
            var second = network.Add(node.Self.RandomInBucket(0)).Node;
            network.Run(second.PingAsync(endpoint));
            network.Clock.Advance(TimeSpan.FromSeconds(5));
            var ids = node.Entries().Select(e => e.Contact.Id).ToHashSet();

            Assert.True(keptOut, "a newcomer took the place of a live contact in a full bucket");
            Assert.Contains(second.Self, ids);
            Assert.DoesNotContain(oldest.Self, ids);
            Assert.Equal(20, ids.Count);
        }).WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task FindTierAsync_HoldersKeepMoreThanAReplyCarries_AsksTheClosestAgainForTheRest_FindsEveryRecordWithoutAskingK()
    {
        var identities = Enumerable.Range(0, 5).Select(_ => NodeIdentity.CreateEphemeral()).ToList();
        try
        {
            await Task.Run(() =>
            {
                // A reply carries two records at most, so no holder can send the five trainers' records at once.
                var network = new SimulatedNetwork(13, TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(20), options: new DhtNodeOptions { MaxValuesPerReply = 2 });
                var (first, firstEndpoint) = network.Add();
                var nodes = Enumerable.Range(0, 24).Select(_ => network.Add().Node).ToList();
                var trainers = identities.Select(identity => network.Add(DhtId.Parse(identity.NodeId)).Node).ToList();
                foreach (var node in nodes.Concat(trainers))
                {
                    network.Run(node.JoinAsync([firstEndpoint]));
                }

                var records = identities.Select((identity, i) =>
                {
                    var record = NodeRecord.Create(identity, NodeRecordTests.Content() with { Tier = "training" }, 1, network.Clock.GetUtcNow().AddHours(1));
                    network.Run(trainers[i].PublishAsync(record));
                    return record;
                }).ToList();

                // The asker learns the nodes closest to the key first (it joined before the trainers), so that what is
                // measured is the search's end, not how well the asker knew that part of the network.
                var asker = nodes[^1];
                network.Run(asker.LookupAsync(DhtId.TierKey("training", "us-east")));
                var askedAgainBefore = network.RecordsOnlyRequests;
                var search = network.Run(asker.FindTierAsync("training", "us-east"));

                Assert.Equal(records.Select(r => r.Id).Order(), search.Records.Select(r => r.Id).Order());
                Assert.True(network.RecordsOnlyRequests > askedAgainBefore, "no holder was asked again for the records it could not send");
                Assert.True(search.Queried < network.Options.K, $"the search asked {search.Queried} nodes, not only the closest holders");
            }).WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            identities.ForEach(i => i.Dispose());
        }
    }

    [Fact]
    public async Task FindTierAsync_EveryContactStale_RejoinsThroughItsBootstrapBeforeSearching()
    {
        await Task.Run(() =>
        {
            var network = new SimulatedNetwork(9, TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(20));
            var (first, firstEndpoint) = network.Add();
            var others = Enumerable.Range(0, 4).Select(_ => network.Add().Node).ToList();
            foreach (var other in others)
            {
                network.Run(other.JoinAsync([firstEndpoint]));
            }

            // Every other node falls silent: the asker's requests time out and every contact turns stale.
            var asker = others[0];
            foreach (var node in others.Skip(1).Append(first))
            {
                network.Remove(node);
            }

            for (var i = 0; i < 5 && asker.StaleContacts < asker.RoutingTableSize; i++)
            {
                network.Run(asker.LookupAsync(network.RandomId()));
            }

            var kept = (asker.RoutingTableSize, asker.StaleContacts);
            network.Restore(first, firstEndpoint);
            var search = network.Run(asker.FindTierAsync("training", "us-east"));

            Assert.Equal((4, 4), kept);
            Assert.True(search.Queried > 0, "the search asked no one");
            Assert.Contains(search.Closest, c => c.Id == first.Self);
            Assert.True(asker.StaleContacts < 4, "the bootstrap node answered and is still stale");
        }).WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task LookupAsync_EveryContactSilentForAWhile_TheTableIsKept_AndFindsThemAllOnceTheyAnswerAgain()
    {
        await Task.Run(() =>
        {
            // No bootstrap list to rejoin through: only what the table kept can find the others again.
            var network = new SimulatedNetwork(11, TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(20));
            var (first, firstEndpoint) = network.Add();
            var others = Enumerable.Range(0, 9).Select(_ => network.Add().Node).ToList();
            foreach (var other in others)
            {
                network.Run(other.JoinAsync([firstEndpoint]));
            }

            var asker = network.Add().Node;
            asker.AddContact(new DhtContact(first.Self, firstEndpoint));
            network.Run(asker.LookupAsync(asker.Self));
            var known = asker.RoutingTableSize;

            // The asker's link goes down: everything it sends times out (its contacts look silent to it).
            var silent = network.Alive.Where(n => n != asker).Select(n => (Node: n, Endpoint: network.EndpointOf(n))).ToList();
            silent.ForEach(n => network.Remove(n.Node));
            for (var i = 0; i < 3; i++)
            {
                network.Run(asker.LookupAsync(network.RandomId()));
            }

            var whileDown = (asker.RoutingTableSize, asker.StaleContacts);
            silent.ForEach(n => network.Restore(n.Node, n.Endpoint));
            var after = network.Run(asker.LookupAsync(network.RandomId()));

            Assert.Equal(10, known);
            Assert.Equal((10, 10), whileDown);
            Assert.Equal(10, after.Closest.Count);
            Assert.Equal(0, asker.StaleContacts);
        }).WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task JoinAsync_ThroughABootstrapEndpoint_FillsTheTablesOfBoth()
    {
        await Task.Run(() =>
        {
            var network = new SimulatedNetwork(8, TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(20));
            var (first, firstEndpoint) = network.Add();
            var others = Enumerable.Range(0, 5).Select(_ => network.Add().Node).ToList();
            foreach (var other in others)
            {
                Assert.Single(network.Run(other.JoinAsync([firstEndpoint])));
            }

            Assert.Equal(5, first.RoutingTableSize);
            Assert.All(others, o => Assert.Equal(5, o.RoutingTableSize));
        }).WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task LookupAsync_ContactsThatLeft_AreGivenUpAfterTheMeasuredRoundTripsNotTheFixedTimeout()
    {
        await Task.Run(() =>
        {
            var network = new SimulatedNetwork(9, TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(20));
            var (first, firstEndpoint) = network.Add();
            var others = Enumerable.Range(0, 30).Select(_ => network.Add().Node).ToList();
            foreach (var other in others)
            {
                network.Run(other.JoinAsync([firstEndpoint]));
            }

            // First a lookup over live nodes (40 ms round trips measured), then ten of them leave without a word.
            var target = network.RandomId();
            var before = network.Run(first.LookupAsync(target));
            var leaving = others.Take(10).ToList();
            leaving.ForEach(network.Remove);
            var after = network.Run(first.LookupAsync(target));

            Assert.Equal(20, before.Closest.Count);
            Assert.True(after.Failed > 0, "no contact that left was asked");
            var alive = network.Alive.Select(n => n.Self).ToHashSet();
            Assert.All(after.Closest, c => Assert.Contains(c.Id, alive));
            Assert.True(after.Closest.Count >= 15, $"{after.Closest.Count} live nodes found of 20");
            Assert.True(after.Duration < network.Options.RequestTimeout, $"the lookup took {after.Duration.TotalMilliseconds} ms of virtual time: a contact that left held it up for the fixed timeout ({network.Options.RequestTimeout.TotalMilliseconds} ms)");
        }).WaitAsync(TimeSpan.FromSeconds(30));
    }
}
