using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Dht;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Tests.Peers;

namespace Tenzro.Node.Tests.Dht;

[Trait("Suite", "dht")]
public sealed class DhtWireTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 3, 0, 0, TimeSpan.Zero);
    private readonly NodeIdentity _identity = NodeIdentity.CreateEphemeral();
    private readonly FakeTimeProvider _time = new(Now);

    public void Dispose() => _identity.Dispose();

    [Fact]
    public void Encode_FindNode_DecodesToTheSameMessageFromTheSigner()
    {
        var target = DhtId.Random();
        var message = new DhtMessage { Type = DhtMessageType.FindNode, RequestId = "0123456789abcdef", Sender = SelfId, Target = target };

        var datagrams = DhtWire.Encode(message, _identity, new ReplayGuard(_time));
        var decoded = DhtWire.Decode(Assert.Single(datagrams), new ReplayGuard(_time), out var refusal);

        Assert.Null(refusal);
        Assert.Equal(DhtMessageType.FindNode, decoded!.Type);
        Assert.Equal(SelfId, decoded.Sender);
        Assert.Equal(target, decoded.Target);
        Assert.Equal("find_node", JsonNode.Parse(datagrams[0])!["t"]!.GetValue<string>());
    }

    [Fact]
    public void Encode_ReplyTooLargeForOneDatagram_SpansPartsOfAtMost1200BytesWithOneRequestId()
    {
        var (records, contacts, datagrams, parts) = ValuesReply("00000000000000aa", records: 3);

        Assert.InRange(datagrams.Count, 2, DhtWire.MaxParts);
        Assert.All(datagrams, d => Assert.True(d.Length <= DhtWire.MaxDatagram, $"a datagram of {d.Length} bytes"));
        Assert.All(parts, p => Assert.Equal("00000000000000aa", p.RequestId));
        Assert.Equal(Enumerable.Range(0, datagrams.Count), parts.Select(p => p.Part));
        Assert.Equal(records.Select(r => r.Id), parts.SelectMany(p => p.Records).Select(r => r["id"]!.GetValue<string>()));
        var carried = parts.SelectMany(p => p.Contacts).ToList();
        Assert.NotEmpty(carried);
        Assert.Equal(contacts.Take(carried.Count), carried);
    }

    [Fact]
    public void Encode_MoreThanFits_RecordsBeforeContactsAndEveryDatagramFilledButNotOver()
    {
        // Eight records and twenty contacts do not fit in four datagrams: the records (what FIND_VALUE asks for) go
        // first, and what is left out is left out whole.
        var (records, _, datagrams, parts) = ValuesReply("00000000000000ab", records: 8);
        var carried = parts.SelectMany(p => p.Records).Select(r => r["id"]!.GetValue<string>()).ToList();

        Assert.Equal(DhtWire.MaxParts, datagrams.Count);
        Assert.All(datagrams, d => Assert.InRange(d.Length, DhtWire.MaxDatagram - CanonicalJson.Serialize(records[0].Json).Length, DhtWire.MaxDatagram));
        Assert.Equal(records.Take(carried.Count).Select(r => r.Id), carried);
        Assert.True(carried.Count >= DhtWire.MaxParts, $"{carried.Count} records in {DhtWire.MaxParts} datagrams");
    }

    /// <summary>A FIND_VALUE reply with <paramref name="records"/> records and 20 contacts, encoded and decoded again.</summary>
    private (List<NodeRecord> Records, List<DhtContact> Contacts, IReadOnlyList<byte[]> Datagrams, List<DhtMessage> Parts) ValuesReply(string requestId, int records)
    {
        var contacts = Enumerable.Range(0, 20).Select(i => new DhtContact(DhtId.Random(), $"203.0.113.{i}:8081")).ToList();
        var held = Enumerable.Range(0, records).Select(_ => Record()).ToList();
        var reply = new DhtMessage { Type = DhtMessageType.Values, RequestId = requestId, Sender = SelfId, Target = DhtId.Random(), Contacts = contacts, Records = [.. held.Select(r => r.Json)] };
        var datagrams = DhtWire.Encode(reply, _identity, new ReplayGuard(_time));
        var guard = new ReplayGuard(_time);
        return (held, contacts, datagrams, [.. datagrams.Select(d => DhtWire.Decode(d, guard, out _)!)]);
    }

    [Fact]
    public void Decode_OversizedMalformedUnsignedReplayedOrOtherDomain_IsRefusedWithItsReason()
    {
        var guard = new ReplayGuard(_time);
        var good = DhtWire.Encode(new DhtMessage { Type = DhtMessageType.Ping, RequestId = "0000000000000001", Sender = SelfId }, _identity, guard)[0];
        var unsigned = JsonNode.Parse(good)!.AsObject();
        unsigned.Remove("signature");
        var otherDomain = JsonNode.Parse(good)!.AsObject();
        DomainSignature.Sign(otherDomain, SignatureDomain.PeerHello, _identity);

        Assert.Equal(P2pRejection.Oversized, Refusal(new byte[DhtWire.MaxDatagram + 1], guard));
        Assert.Equal(P2pRejection.Malformed, Refusal(Encoding.UTF8.GetBytes("{\"t\":\"ping\""), guard));
        Assert.Equal(P2pRejection.Malformed, Refusal(Encoding.UTF8.GetBytes("{\"t\":\"shout\",\"rid\":\"0000000000000001\"}"), guard));
        Assert.Equal(P2pRejection.BadSignature, Refusal(CanonicalJson.Serialize(unsigned), guard));
        Assert.Equal(P2pRejection.BadSignature, Refusal(CanonicalJson.Serialize(otherDomain), guard));
        Assert.Null(Refusal(good, guard));
        Assert.Equal(P2pRejection.Replayed, Refusal(good, guard));
    }

    [Fact]
    public void Decode_MessageFromOutsideTheClockWindow_IsStale()
    {
        var datagram = DhtWire.Encode(new DhtMessage { Type = DhtMessageType.Ping, RequestId = "0000000000000002", Sender = SelfId }, _identity, new ReplayGuard(new FakeTimeProvider(Now.AddMinutes(-6))))[0];

        Assert.Equal(P2pRejection.Stale, Refusal(datagram, new ReplayGuard(_time)));
    }

    private DhtId SelfId => DhtId.Parse(_identity.NodeId);

    private NodeRecord Record()
    {
        using var other = NodeIdentity.CreateEphemeral();
        return NodeRecord.Create(other, NodeRecordTests.Content(), 1, Now.AddHours(1));
    }

    private static string? Refusal(byte[] datagram, ReplayGuard guard)
    {
        DhtWire.Decode(datagram, guard, out var refusal);
        return refusal?.Reason;
    }
}
