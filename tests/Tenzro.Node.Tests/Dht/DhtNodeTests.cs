using Tenzro.Node.Core.Dht;

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
    public async Task FindTierAsync_TableEmptiedByFailures_RejoinsThroughItsBootstrapBeforeSearching()
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

            // Every other node falls silent: the asker's requests time out and its table empties.
            var asker = others[0];
            foreach (var node in others.Skip(1).Append(first))
            {
                network.Remove(node);
            }

            for (var i = 0; i < 5 && asker.RoutingTableSize > 0; i++)
            {
                network.Run(asker.LookupAsync(network.RandomId()));
            }

            var emptied = asker.RoutingTableSize;
            network.Restore(first, firstEndpoint);
            var search = network.Run(asker.FindTierAsync("training", "us-east"));

            Assert.Equal(0, emptied);
            Assert.True(search.Queried > 0, "the search asked no one: the table stayed empty");
            Assert.Contains(search.Closest, c => c.Id == first.Self);
            Assert.True(asker.RoutingTableSize > 0);
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
