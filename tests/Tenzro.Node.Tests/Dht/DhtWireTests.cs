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

    [Fact]
    public void Encode_FindValueWithHeldRecords_DecodesToTheSameListAndRecordsOnly()
    {
        var have = Enumerable.Range(0, DhtWire.MaxHave).Select(i => new HeldRecord(Convert.ToHexStringLower(BitConverter.GetBytes((long)i)), 1_000_000 + i)).ToList();
        var request = new DhtMessage { Type = DhtMessageType.FindValue, RequestId = "00000000000000ac", Sender = SelfId, Target = DhtId.Random(), Have = have, RecordsOnly = true };

        var datagram = Assert.Single(DhtWire.Encode(request, _identity, new ReplayGuard(_time)));
        var decoded = DhtWire.Decode(datagram, new ReplayGuard(_time), out var refusal);

        Assert.Null(refusal);
        Assert.Equal(have, decoded!.Have);
        Assert.True(decoded.RecordsOnly);
        Assert.False(decoded.Complete);
    }

    [Fact]
    public void Encode_CompleteReply_SaysSoOnlyWhenEveryRecordFitsItsDatagrams()
    {
        var fits = ValuesReply("00000000000000ad", records: 2, complete: true);
        var cut = ValuesReply("00000000000000ae", records: 8, complete: true);

        Assert.All(fits.Parts, p => Assert.True(p.Complete));
        Assert.True(cut.Parts.SelectMany(p => p.Records).Count() < 8);
        Assert.All(cut.Parts, p => Assert.False(p.Complete));
    }

    [Fact]
    public void Decode_HeldRecordsMalformedOrTooMany_IsRefusedAsMalformed()
    {
        var guard = new ReplayGuard(_time);
        string Signed(JsonNode have)
        {
            var json = new JsonObject { ["t"] = "find_value", ["rid"] = "00000000000000af", ["key"] = _identity.PublicKeyBase64, ["target"] = DhtId.Random().ToString(), ["have"] = have };
            guard.StampAndSign(json, SignatureDomain.DhtRpc, _identity);
            return Refusal(CanonicalJson.Serialize(json), new ReplayGuard(_time)) ?? "accepted";
        }

        Assert.Equal(P2pRejection.Malformed, Signed(new JsonArray(new JsonArray("0123456789ABCDEF", 1))));
        Assert.Equal(P2pRejection.Malformed, Signed(new JsonArray(new JsonArray("0123456789abcdef"))));
        Assert.Equal(P2pRejection.Malformed, Signed(new JsonArray([.. Enumerable.Range(0, DhtWire.MaxHave + 1).Select(_ => (JsonNode)new JsonArray("0123456789abcdef", 1))])));
        Assert.Equal("accepted", Signed(new JsonArray(new JsonArray("0123456789abcdef", 1))));

        // Any seq a record may carry, a negative one included, so that listing such a record never gets the asker's
        // requests refused.
        Assert.Equal("accepted", Signed(new JsonArray(new JsonArray("0123456789abcdef", -1))));
    }

    /// <summary>A FIND_VALUE reply with <paramref name="records"/> records and 20 contacts, encoded and decoded again.</summary>
    private (List<NodeRecord> Records, List<DhtContact> Contacts, IReadOnlyList<byte[]> Datagrams, List<DhtMessage> Parts) ValuesReply(string requestId, int records, bool complete = false)
    {
        var contacts = Enumerable.Range(0, 20).Select(i => new DhtContact(DhtId.Random(), $"203.0.113.{i}:8081")).ToList();
        var held = Enumerable.Range(0, records).Select(_ => Record()).ToList();
        var reply = new DhtMessage { Type = DhtMessageType.Values, RequestId = requestId, Sender = SelfId, Target = DhtId.Random(), Contacts = contacts, Records = [.. held.Select(r => r.Json)], Complete = complete };
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
