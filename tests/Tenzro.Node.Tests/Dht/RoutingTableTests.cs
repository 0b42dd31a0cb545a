using Tenzro.Node.Core.Dht;

namespace Tenzro.Node.Tests.Dht;

[Trait("Suite", "dht")]
public sealed class RoutingTableTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 3, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Seen_ThirdPublicAddressOfOneSlash24InABucket_IsRefusedButLoopbackAndPrivateAreNot()
    {
        var self = DhtId.Random();
        var table = new RoutingTable(self, 20);
        var far = Enumerable.Range(0, 9).Select(_ => self.RandomInBucket(0)).ToList();

        Assert.Equal(TableChange.Added, table.Seen(new DhtContact(far[0], "198.51.100.1:8081"), Now));
        Assert.Equal(TableChange.Added, table.Seen(new DhtContact(far[1], "198.51.100.2:8081"), Now));
        Assert.Equal(TableChange.SubnetFull, table.Seen(new DhtContact(far[2], "198.51.100.3:8081"), Now));
        Assert.Equal(TableChange.Added, table.Seen(new DhtContact(far[3], "198.51.101.3:8081"), Now));
        Assert.Equal(TableChange.Added, table.Seen(new DhtContact(far[4], "[2001:db8:1::1]:8081"), Now));
        Assert.Equal(TableChange.Added, table.Seen(new DhtContact(far[5], "[2001:db8:1:2::1]:8081"), Now));
        Assert.Equal(TableChange.SubnetFull, table.Seen(new DhtContact(far[6], "[2001:db8:1:3::1]:8081"), Now));
        foreach (var (id, i) in far.Take(3).Select((id, i) => (id, i)))
        {
            table.Remove(id);
        }

        Assert.All(Enumerable.Range(0, 3), i => Assert.Equal(TableChange.Added, table.Seen(new DhtContact(self.RandomInBucket(0), $"127.0.0.{i + 1}:9000"), Now)));
        Assert.All(Enumerable.Range(0, 3), i => Assert.Equal(TableChange.Added, table.Seen(new DhtContact(self.RandomInBucket(0), $"192.168.1.{i + 1}:9000"), Now)));
    }

    [Fact]
    public void Seen_FullBucket_KeepsTheOldEntriesAndNamesTheOldestToPing()
    {
        var self = DhtId.Random();
        var table = new RoutingTable(self, 20);
        var ids = Enumerable.Range(0, 20).Select(_ => self.RandomInBucket(0)).ToList();
        foreach (var (id, i) in ids.Select((id, i) => (id, i)))
        {
            table.Seen(new DhtContact(id, $"127.0.0.1:{10000 + i}"), Now.AddSeconds(i));
        }

        var newcomer = new DhtContact(self.RandomInBucket(0), "127.0.0.1:20000");

        Assert.Equal(TableChange.BucketFull, table.Seen(newcomer, Now.AddMinutes(1)));
        Assert.False(table.Contains(newcomer.Id));
        Assert.Equal(ids[0], table.NextToPing(newcomer.Id)!.Contact.Id);
        Assert.Equal(TableChange.Updated, table.Seen(new DhtContact(ids[0], "127.0.0.1:10000"), Now.AddMinutes(2)));
        Assert.Equal(ids[1], table.NextToPing(newcomer.Id)!.Contact.Id);
    }

    [Fact]
    public void Seen_KnownIdFromANewAddress_ReplacesTheAddress()
    {
        var self = DhtId.Random();
        var table = new RoutingTable(self, 20);
        var id = DhtId.Random();
        table.Seen(new DhtContact(id, "127.0.0.1:1000"), Now);

        table.Seen(new DhtContact(id, "127.0.0.1:2000"), Now.AddSeconds(1));

        Assert.Equal("127.0.0.1:2000", Assert.Single(table.Closest(id, 20)).Endpoint);
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void Failed_TheContactStaysFlaggedStale_UntilItIsHeardFromAgain()
    {
        var self = DhtId.Random();
        var table = new RoutingTable(self, 20);
        var id = self.RandomInBucket(3);
        table.Seen(new DhtContact(id, "127.0.0.1:1000"), Now);

        var first = table.Failed(id);
        var second = table.Failed(id);
        var whileStale = (table.Count, table.StaleCount, table.Contains(id), table.Entries().Single().Failures);
        var heard = table.Seen(new DhtContact(id, "127.0.0.1:1000"), Now.AddMinutes(1));

        Assert.Equal((1, 2), (first, second));
        Assert.Equal((1, 1, true, 2), whileStale);
        Assert.Equal(TableChange.Updated, heard);
        Assert.Equal(0, table.StaleCount);
        Assert.False(table.Entries().Single().IsStale);
        Assert.Equal(0, table.Failed(DhtId.Random())); // not in the table
    }

    [Fact]
    public void Closest_OffersStaleContactsAfterTheOthers_AndOnlyWhereFewerThanAskedAreLive()
    {
        var self = DhtId.Random();
        var table = new RoutingTable(self, 20);
        var target = DhtId.Random();
        var ids = Enumerable.Range(0, 6).Select(i => self.RandomInBucket(i)).ToList();
        foreach (var (id, i) in ids.Select((id, i) => (id, i)))
        {
            table.Seen(new DhtContact(id, $"127.0.0.1:{1000 + i}"), Now);
        }

        var byDistance = ids.OrderBy(id => id, Comparer<DhtId>.Create(target.CompareDistance)).ToList();
        table.Failed(byDistance[0]);

        var three = table.Closest(target, 3).Select(c => c.Id).ToList();
        var all = table.Closest(target, 10).Select(c => c.Id).ToList();

        Assert.Equal(byDistance.Skip(1).Take(3), three);
        Assert.Equal(byDistance.Skip(1).Append(byDistance[0]), all);
    }

    [Fact]
    public void Seen_NewcomerToAFullBucketWithStaleEntries_WaitsForAPing_OfTheStalestEntry()
    {
        // A node whose own link was down has every contact stale: newcomers must not flush its long-lived entries
        // unheard, so a full bucket still pings first, and the entry pinged is the one that failed most.
        var self = DhtId.Random();
        var table = new RoutingTable(self, 20);
        var ids = Enumerable.Range(0, 20).Select(_ => self.RandomInBucket(0)).ToList();
        foreach (var (id, i) in ids.Select((id, i) => (id, i)))
        {
            table.Seen(new DhtContact(id, $"127.0.0.1:{10000 + i}"), Now.AddSeconds(i));
        }

        table.Failed(ids[5]);
        table.Failed(ids[9]);
        table.Failed(ids[9]);
        var newcomer = new DhtContact(self.RandomInBucket(0), "127.0.0.1:20000");

        Assert.Equal(TableChange.BucketFull, table.Seen(newcomer, Now.AddMinutes(1)));
        Assert.False(table.Contains(newcomer.Id));
        Assert.Equal(ids[9], table.NextToPing(newcomer.Id)!.Contact.Id);
        table.Seen(new DhtContact(ids[9], "127.0.0.1:10009"), Now.AddMinutes(2)); // it answered
        Assert.Equal(ids[5], table.NextToPing(newcomer.Id)!.Contact.Id);
        Assert.Equal((20, 1), (table.Count, table.StaleCount));
    }

    [Fact]
    public void CountCloser_StaleContacts_DoNotCount()
    {
        // Whether this node hands its records to a newcomer depends on how many known nodes are closer to the key: a
        // contact that stopped answering must not stand in for one that holds the records.
        var self = DhtId.Random();
        var table = new RoutingTable(self, 20);
        var key = self.RandomInBucket(0);
        var closer = Enumerable.Range(0, 3).Select(_ => key.RandomInBucket(200)).ToList();
        foreach (var (id, i) in closer.Select((id, i) => (id, i)))
        {
            table.Seen(new DhtContact(id, $"127.0.0.1:{1000 + i}"), Now);
        }

        var before = table.CountCloser(key, self, DhtId.Random(), 3);
        table.Failed(closer[0]);

        Assert.Equal(3, before);
        Assert.Equal(2, table.CountCloser(key, self, DhtId.Random(), 3));
    }
}
