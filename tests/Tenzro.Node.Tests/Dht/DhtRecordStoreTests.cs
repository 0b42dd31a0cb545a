using Tenzro.Node.Core.Dht;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Tests.Peers;

namespace Tenzro.Node.Tests.Dht;

[Trait("Suite", "dht")]
public sealed class DhtRecordStoreTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 3, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Put_RecordUnderAKeyThatIsNeitherItsIdNorItsTierKey_IsRefused()
    {
        using var identity = NodeIdentity.CreateEphemeral();
        var record = NodeRecord.Create(identity, NodeRecordTests.Content(), 5, Now.AddHours(1));
        var store = new DhtRecordStore(new DhtStoreLimits());

        Assert.Equal(P2pRejection.WrongId, store.Put(DhtId.Random(), record.Json, Now, out _)?.Reason);
        Assert.Equal(P2pRejection.WrongId, store.Put(DhtId.TierKey("training", "us-east"), record.Json, Now, out _)?.Reason);
        Assert.Null(store.Put(DhtId.Parse(identity.NodeId), record.Json, Now, out _));
        Assert.Null(store.Put(DhtId.TierKey("aggregator", "us-east"), record.Json, Now, out _));
        Assert.Equal(2, store.Count);
    }

    [Fact]
    public void Put_OlderSeqOrExpiredOrForgedRecord_IsRefusedAndTheNewestKept()
    {
        using var identity = NodeIdentity.CreateEphemeral();
        var key = DhtId.Parse(identity.NodeId);
        var newer = NodeRecord.Create(identity, NodeRecordTests.Content(), 9, Now.AddHours(1));
        var older = NodeRecord.Create(identity, NodeRecordTests.Content(), 8, Now.AddHours(1));
        var expired = NodeRecord.Create(identity, NodeRecordTests.Content(), 10, Now.AddMinutes(-1));
        var forged = (System.Text.Json.Nodes.JsonObject)newer.Json.DeepClone();
        forged["tier"] = "training";
        var store = new DhtRecordStore(new DhtStoreLimits());

        Assert.Null(store.Put(key, newer.Json, Now, out _));
        Assert.Equal(P2pRejection.Stale, store.Put(key, older.Json, Now, out _)?.Reason);
        Assert.Equal(P2pRejection.Expired, store.Put(key, expired.Json, Now, out _)?.Reason);
        Assert.Equal(P2pRejection.BadSignature, store.Put(key, forged, Now, out _)?.Reason);
        Assert.Equal(9, Assert.Single(store.Get(key, Now, 8)).Seq);
    }

    [Fact]
    public void Put_BeyondTheRecordsOfOneTierKey_IsRefusedAndGetReturnsAtMostEight()
    {
        var store = new DhtRecordStore(new DhtStoreLimits { PerKey = 10 });
        var key = DhtId.TierKey("aggregator", "us-east");
        var refusals = new List<string?>();
        for (var i = 0; i < 12; i++)
        {
            using var identity = NodeIdentity.CreateEphemeral();
            refusals.Add(store.Put(key, NodeRecord.Create(identity, NodeRecordTests.Content(), 1, Now.AddHours(1)).Json, Now, out _)?.Reason);
        }

        Assert.Equal(10, refusals.Count(r => r is null));
        Assert.Equal([P2pRejection.Limit, P2pRejection.Limit], refusals.Skip(10));
        Assert.Equal(8, store.Get(key, Now, 8).Count);
        Assert.Empty(store.Get(key, Now.AddHours(2), 8));
    }
}
