using System.Net;
using Makaretu.Dns;
using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Lan;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Tests.Lan;

[Trait("Suite", "lan")]
public sealed class LanDiscoveryProtocolTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 6, 0, 0, TimeSpan.Zero);
    private readonly NodeIdentity _self = NodeIdentity.CreateEphemeral();
    private readonly NodeIdentity _peer = NodeIdentity.CreateEphemeral();
    private readonly FakeTimeProvider _time = new(Now);
    private readonly LanDiscoveryProtocol _protocol;

    public LanDiscoveryProtocolTests() => _protocol = new LanDiscoveryProtocol(_self, _time);

    public void Dispose()
    {
        _self.Dispose();
        _peer.Dispose();
    }

    private LanReceived Receive(byte[] packet) => _protocol.Receive(packet, packet.Length, LanKit.PeerAddress, "eth0");

    [Fact]
    public void Receive_PeerAnnouncement_FindsThePeerWithItsDialAddress()
    {
        var result = Receive(LanKit.Announcement(_peer, Now, port: 8181));

        var change = Assert.Single(result.Changes);
        Assert.Equal(LanChangeKind.Found, change.Kind);
        Assert.Equal(_peer.NodeId, change.Peer.Id);
        Assert.Equal($"tenzro://{_peer.NodeId}@10.77.0.2:8181", change.Peer.DialAddress(0).ToString());
        Assert.Equal(_peer.NodeId, Assert.Single(_protocol.Peers).Id);
    }

    [Fact]
    public void Receive_OwnAnnouncement_IsFilteredOut()
    {
        var own = LanWire.Announcement(_protocol.Txt("inference", 8081, out _), [LanKit.PeerAddress], LanDiscoveryProtocol.RecordTtl);

        var result = Receive(own);

        Assert.True(result.Own);
        Assert.Empty(result.Changes);
        Assert.Empty(result.Refusals);
        Assert.Empty(_protocol.Peers);
    }

    [Fact]
    public void Receive_SameAnnouncementAgain_RefreshesWithoutAChange()
    {
        Receive(LanKit.Announcement(_peer, Now));
        _time.Advance(TimeSpan.FromSeconds(5));

        var again = Receive(LanKit.Announcement(_peer, Now));
        _time.Advance(TimeSpan.FromSeconds(5));

        Assert.Empty(again.Changes);
        Assert.Empty(_protocol.Sweep().Gone);
        Assert.Single(_protocol.Peers);
    }

    [Fact]
    public void Receive_NewPort_IsAnUpdate()
    {
        Receive(LanKit.Announcement(_peer, Now, port: 8081, seq: 100));

        var result = Receive(LanKit.Announcement(_peer, Now, port: 8090, seq: 101));

        Assert.Equal(LanChangeKind.Updated, Assert.Single(result.Changes).Kind);
        Assert.Equal(8090, _protocol.Peers[0].Txt.Port);
    }

    [Fact]
    public void Receive_Goodbye_RemovesThePeerAtOnce()
    {
        Receive(LanKit.Announcement(_peer, Now));

        var result = Receive(LanKit.Announcement(_peer, Now, ttl: TimeSpan.Zero));

        var change = Assert.Single(result.Changes);
        Assert.Equal(LanChangeKind.Gone, change.Kind);
        Assert.Contains("goodbye", change.Why, StringComparison.Ordinal);
        Assert.Empty(_protocol.Peers);
    }

    [Fact]
    public void Receive_GoodbyeWithAForgedTxt_IsIgnored()
    {
        Receive(LanKit.Announcement(_peer, Now));
        var forged = LanKit.WithTxt(_peer, Now, strings => [.. strings.Select(s => s.StartsWith("seq=", StringComparison.Ordinal) ? "seq=999" : s)]);
        var message = new Message();
        message.Read(forged, 0, forged.Length);
        foreach (var record in message.Answers)
        {
            record.TTL = TimeSpan.Zero;
        }

        var packet = message.ToByteArray();
        var result = Receive(packet);

        Assert.Equal(P2pRejection.BadSignature, Assert.Single(result.Refusals).Reason);
        Assert.Single(_protocol.Peers);
    }

    [Fact]
    public void Receive_OlderSeq_IsRefusedAsStale()
    {
        Receive(LanKit.Announcement(_peer, Now, seq: 200));

        var result = Receive(LanKit.Announcement(_peer, Now, seq: 150));

        Assert.Equal(P2pRejection.Stale, Assert.Single(result.Refusals).Reason);
        Assert.Equal(200, _protocol.Peers[0].Txt.Seq);
    }

    [Fact]
    public void Receive_ForgedTxt_IsIgnoredAndCounted()
    {
        var forged = LanKit.WithTxt(_peer, Now, strings => [.. strings.Select(s => s.StartsWith("tier=", StringComparison.Ordinal) ? "tier=training" : s)]);

        var result = Receive(forged);

        Assert.Equal(P2pRejection.BadSignature, Assert.Single(result.Refusals).Reason);
        Assert.Empty(result.Changes);
        Assert.Empty(_protocol.Peers);
    }

    [Fact]
    public void Receive_UnsignedTxt_IsIgnoredAndCounted()
    {
        var unsigned = LanKit.WithTxt(_peer, Now, strings => [.. strings.Where(s => !s.StartsWith("sig=", StringComparison.Ordinal))]);

        var result = Receive(unsigned);

        Assert.Equal(P2pRejection.BadSignature, Assert.Single(result.Refusals).Reason);
        Assert.Empty(_protocol.Peers);
    }

    [Fact]
    public void Receive_Garbage_IsMalformed()
    {
        var result = Receive([0x12, 0x34, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);

        Assert.Equal(P2pRejection.Malformed, Assert.Single(result.Refusals).Reason);
    }

    [Fact]
    public void Receive_CompressionPointerLoop_IsMalformed()
    {
        byte[] loop = [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 12, 0, 1];

        var result = Receive(loop);

        Assert.Equal(P2pRejection.Malformed, Assert.Single(result.Refusals).Reason);
    }

    [Fact]
    public void Receive_PacketOver9000Bytes_IsOversized()
    {
        var packet = new byte[9001];

        var result = _protocol.Receive(packet, packet.Length, LanKit.PeerAddress, "eth0");

        Assert.Equal(P2pRejection.Oversized, Assert.Single(result.Refusals).Reason);
    }

    [Fact]
    public void Receive_MoreIdentitiesThanTheCap_AreRefusedAsLimit()
    {
        var identities = Enumerable.Range(0, LanDiscoveryProtocol.MaxPeers + 1).Select(_ => NodeIdentity.CreateEphemeral()).ToList();
        try
        {
            var results = identities.Select(i => Receive(LanKit.Announcement(i, Now))).ToList();

            Assert.Equal(LanDiscoveryProtocol.MaxPeers, _protocol.Peers.Count);
            Assert.Equal(P2pRejection.Limit, Assert.Single(results[^1].Refusals).Reason);
        }
        finally
        {
            identities.ForEach(i => i.Dispose());
        }
    }

    [Fact]
    public void Receive_OtherServices_AreNeitherPeersNorRefusals()
    {
        var message = new Message { QR = true };
        message.Answers.Add(new PTRRecord { Name = "_ipp._tcp.local", DomainName = "Printer._ipp._tcp.local", TTL = TimeSpan.FromMinutes(75) });
        message.Answers.Add(new SRVRecord { Name = "Printer._ipp._tcp.local", Port = 631, Target = "printer.local", TTL = TimeSpan.FromMinutes(75) });
        message.Answers.Add(new TXTRecord { Name = "Printer._ipp._tcp.local", Strings = { "rp=ipp" }, TTL = TimeSpan.FromMinutes(75) });
        var packet = message.ToByteArray();

        var result = Receive(packet);

        Assert.Empty(result.Refusals);
        Assert.Empty(result.Changes);
    }

    [Fact]
    public void Sweep_PeerNotHeardFromForTheTtl_IsGoneAfterTwoRequeries()
    {
        Receive(LanKit.Announcement(_peer, Now));

        _time.Advance(TimeSpan.FromSeconds(4));
        var before80 = _protocol.Sweep();
        _time.Advance(TimeSpan.FromSeconds(0.9));
        var at80 = _protocol.Sweep();
        _time.Advance(TimeSpan.FromSeconds(0.6));
        var at90 = _protocol.Sweep();
        _time.Advance(TimeSpan.FromSeconds(0.5));
        var at100 = _protocol.Sweep();

        Assert.False(before80.Requery);
        Assert.True(at80.Requery);
        Assert.True(at90.Requery);
        Assert.Empty(at90.Gone);
        Assert.Equal(_peer.NodeId, Assert.Single(at100.Gone).Peer.Id);
        Assert.Empty(_protocol.Peers);
    }

    [Fact]
    public void Sweep_LongTtlOfAnotherResponder_IsCappedAtOurs()
    {
        Receive(LanKit.Announcement(_peer, Now, ttl: TimeSpan.FromMinutes(75)));

        _time.Advance(LanDiscoveryProtocol.RecordTtl);

        Assert.Single(_protocol.Sweep().Gone);
    }

    [Theory]
    [InlineData(LanWire.ServiceName, DnsType.PTR)]
    [InlineData(LanWire.ServiceName, DnsType.ANY)]
    public void Receive_QueryForTheService_IsAnswered(string name, DnsType type)
    {
        var result = Receive(LanKit.Question(name, type));

        Assert.True(result.IsQuery);
        Assert.True(result.Answer);
    }

    [Fact]
    public void Receive_QueryForThisInstanceOrHost_IsAnswered()
    {
        var label = _protocol.SelfLabel;

        Assert.True(Receive(LanKit.Question(LanWire.InstanceName(label), DnsType.SRV)).Answer);
        Assert.True(Receive(LanKit.Question(LanWire.InstanceName(label), DnsType.TXT)).Answer);
        Assert.True(Receive(LanKit.Question(LanWire.HostName(label), DnsType.A)).Answer);
        Assert.False(Receive(LanKit.Question("tenzro-0000000000000000._tenzro._tcp.local", DnsType.SRV)).Answer);
        Assert.False(Receive(LanKit.Question("_http._tcp.local", DnsType.PTR)).Answer);
    }

    [Fact]
    public void Receive_QueryThatKnowsThisNode_IsNotAnswered()
    {
        var message = new Message();
        message.Questions.Add(new Question { Name = LanWire.ServiceName, Type = DnsType.PTR, Class = DnsClass.IN });
        message.Answers.Add(new PTRRecord { Name = LanWire.ServiceName, DomainName = LanWire.InstanceName(_protocol.SelfLabel), TTL = TimeSpan.FromSeconds(6) });
        var packet = message.ToByteArray();

        Assert.False(Receive(packet).Answer);
    }

    [Fact]
    public void Receive_ServiceEnumeration_IsAnswered()
    {
        var result = Receive(LanKit.Question(LanWire.ServicesEnumeration, DnsType.PTR));

        Assert.True(result.AnswerEnumeration);
        Assert.False(result.Answer);
    }

    [Fact]
    public void TakeAnswerSlot_TwiceWithinTheGap_GivesOneAnswer()
    {
        Assert.True(_protocol.TakeAnswerSlot("eth0"));
        Assert.False(_protocol.TakeAnswerSlot("eth0"));
        Assert.True(_protocol.TakeAnswerSlot("eth1"));
        _time.Advance(LanDiscoveryProtocol.AnswerGap);
        Assert.True(_protocol.TakeAnswerSlot("eth0"));
    }

    [Fact]
    public void Wire_Announcement_ParsesBackWithEveryRecord()
    {
        var txt = LanTxt.Create(_peer, "inference", 8081, 7, Now + TimeSpan.FromMinutes(10));
        var v6 = IPAddress.Parse("fe80::1");
        var packet = LanWire.Announcement(txt, [LanKit.PeerAddress, v6], TimeSpan.FromSeconds(6));

        var parsed = LanWire.Parse(packet, packet.Length);

        var instance = Assert.Single(parsed.Instances);
        Assert.False(parsed.IsQuery);
        Assert.Equal(txt.Label, instance.Label);
        Assert.Equal(8081, instance.Port);
        Assert.Equal(txt.Strings(), instance.Txt);
        Assert.Equal([LanKit.PeerAddress, v6], instance.Addresses);
        Assert.Equal(TimeSpan.FromSeconds(6), instance.Ttl);
    }

    [Fact]
    public void DialAddress_LinkLocalOnly_CarriesTheScopeOfTheInterface()
    {
        var txt = LanTxt.Create(_peer, "inference", 8081, 7, Now + TimeSpan.FromMinutes(10));
        var peer = new LanPeer(txt, [IPAddress.Parse("fe80::1")], IPAddress.Parse("fe80::1"), "eth0", Now, Now);

        Assert.Equal("fe80::1%3", peer.DialAddress(3).Host);
    }
}
