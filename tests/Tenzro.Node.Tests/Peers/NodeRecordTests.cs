using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Peers;

[Trait("Suite", "peers")]
public sealed class NodeRecordTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 3, 0, 0, TimeSpan.Zero);
    private readonly NodeIdentity _identity = NodeIdentity.CreateEphemeral();
    private readonly FakeTimeProvider _time = new(Now);

    public void Dispose() => _identity.Dispose();

    internal static NodeRecordContent Content(double cpu = 2, long memoryMB = 4096, params string[] addresses) => new()
    {
        Version = "1.2.3",
        Tier = "aggregator",
        QualifiedTier = "inference",
        Region = "us-east",
        Arch = "x64",
        Addresses = addresses.Length == 0 ? ["127.0.0.1:8081"] : addresses,
        RaftPort = 8082,
        Capabilities = ["compute", "store", "process"],
        Free = new ResourceAmounts(cpu, memoryMB, 20480, 0, 0),
    };

    [Fact]
    public void DomainSignature_SignedBytes_AreTheDomainLineThenCanonicalJsonWithoutSignature()
    {
        var payload = new JsonObject { ["b"] = 1, ["a"] = "x", ["signature"] = "ignored" };

        var bytes = DomainSignature.SignedBytes(SignatureDomain.PeerHello, payload);

        Assert.Equal("tenzro/v1/peer-hello\n{\"a\":\"x\",\"b\":1}", Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void DomainSignature_SignatureOfOneDomain_FailsInEveryOther()
    {
        var payload = DomainSignature.Sign(new JsonObject { ["type"] = "hello", ["n"] = 1 }, SignatureDomain.PeerHello, _identity);

        Assert.True(DomainSignature.Verify(payload, SignatureDomain.PeerHello, _identity.PublicKey));
        foreach (var other in Enum.GetValues<SignatureDomain>().Where(d => d != SignatureDomain.PeerHello))
        {
            Assert.False(DomainSignature.Verify(payload, other, _identity.PublicKey));
        }
    }

    [Fact]
    public void Create_Record_HasTheContractShapeAndVerifies()
    {
        var record = NodeRecord.Create(_identity, Content(), 7, Now.AddHours(1));

        var read = NodeRecord.Read(JsonNode.Parse(record.Json.ToJsonString()), Now, out var refusal);

        Assert.Null(refusal);
        Assert.NotNull(read);
        Assert.Equal(_identity.NodeId, read.Id);
        Assert.Equal(7, read.Seq);
        Assert.Equal("1", read.ProtocolMajor);
        var names = record.Json.Select(p => p.Key).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["addresses", "arch", "capabilities", "expiresAt", "free", "id", "protocol", "publicKey", "qualifiedTier", "raftPort", "region", "seq", "signature", "tier", "version"], names);
        Assert.True(CanonicalJson.Serialize(record.Json).Length <= NodeRecord.MaxCanonicalBytes);
    }

    [Fact]
    public void Read_CanonicalBytes_DoNotDependOnMemberOrder()
    {
        var record = NodeRecord.Create(_identity, Content(), 7, Now.AddHours(1));
        var reordered = new JsonObject();
        foreach (var (name, value) in record.Json.Reverse())
        {
            reordered[name] = value?.DeepClone();
        }

        Assert.Equal(CanonicalJson.Serialize(record.Json), CanonicalJson.Serialize(reordered));
        Assert.NotNull(NodeRecord.Read(reordered, Now, out _));
    }

    [Fact]
    public void Read_ExpiredRecord_IsRefused()
    {
        var record = NodeRecord.Create(_identity, Content(), 1, Now.AddMinutes(1));

        Assert.Null(NodeRecord.Read(record.Json, Now.AddMinutes(2), out var refusal));
        Assert.Equal(P2pRejection.Expired, refusal!.Reason);
    }

    [Fact]
    public void Read_SignedRecordWithANegativeOrOversizedSeq_IsRefusedAsMalformed()
    {
        var negative = NodeRecord.Create(_identity, Content(), -1, Now.AddMinutes(1));
        var oversized = NodeRecord.Create(_identity, Content(), NodeRecord.MaxSeq + 2, Now.AddMinutes(1));

        Assert.Null(NodeRecord.Read(negative.Json, Now, out var refusal));
        Assert.Equal(P2pRejection.Malformed, refusal!.Reason);
        Assert.Contains("seq is -1", refusal.Detail, StringComparison.Ordinal);
        Assert.Null(NodeRecord.Read(oversized.Json, Now, out refusal));
        Assert.Equal(P2pRejection.Malformed, refusal!.Reason);
        Assert.NotNull(NodeRecord.Read(NodeRecord.Create(_identity, Content(), NodeRecord.MaxSeq, Now.AddMinutes(1)).Json, Now, out _));
    }

    [Fact]
    public void Read_IdThatIsNotTheHashOfTheKey_IsRefused()
    {
        using var other = NodeIdentity.CreateEphemeral();
        var json = (JsonObject)NodeRecord.Create(_identity, Content(), 1, Now.AddHours(1)).Json.DeepClone();
        json["id"] = other.NodeId;
        DomainSignature.Sign(json, SignatureDomain.NodeRecord, _identity);

        Assert.Null(NodeRecord.Read(json, Now, out var refusal));
        Assert.Equal(P2pRejection.IdMismatch, refusal!.Reason);
    }

    [Fact]
    public void Read_ChangedFigureOrSignatureOfAnotherDomain_IsRefused()
    {
        var json = (JsonObject)NodeRecord.Create(_identity, Content(), 1, Now.AddHours(1)).Json.DeepClone();
        json["tier"] = "training";
        Assert.Null(NodeRecord.Read(json, Now, out var changed));
        Assert.Equal(P2pRejection.BadSignature, changed!.Reason);

        DomainSignature.Sign(json, SignatureDomain.MdnsTxt, _identity);
        Assert.Null(NodeRecord.Read(json, Now, out var otherDomain));
        Assert.Equal(P2pRejection.BadSignature, otherDomain!.Reason);
    }

    [Fact]
    public void Create_RecordOver800Bytes_IsRefused()
    {
        var many = Enumerable.Range(0, 30).Select(i => $"192.168.100.{i}:8081").ToArray();

        var error = Assert.Throws<ArgumentException>(() => NodeRecord.Create(_identity, Content(2, 4096, many), 1, Now.AddHours(1)));
        Assert.Contains("800", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_RecordOver800Bytes_IsRefusedBeforeItsSignatureIsChecked()
    {
        var json = (JsonObject)NodeRecord.Create(_identity, Content(), 1, Now.AddHours(1)).Json.DeepClone();
        json["addresses"] = new JsonArray([.. Enumerable.Range(0, 40).Select(i => (JsonNode)$"10.0.0.{i}:8081")]);

        Assert.Null(NodeRecord.Read(json, Now, out var refusal));
        Assert.Equal(P2pRejection.Oversized, refusal!.Reason);
    }

    [Fact]
    public void Signer_SmallMoveOfFreeFigures_KeepsSeq_MeaningfulChangeRaisesIt()
    {
        var signer = new NodeRecordSigner(_identity, _time);

        var first = signer.Current(Content(cpu: 2.0, memoryMB: 4096));
        var sample = signer.Current(Content(cpu: 2.2, memoryMB: 4100));
        var changed = signer.Current(Content(cpu: 1.0, memoryMB: 4096));

        Assert.Same(first, sample);
        Assert.True(changed.Seq > first.Seq);
        Assert.Equal(1.0, changed.Content.Free.Cpu);
    }

    [Fact]
    public void Signer_HalfTheLifetimeGone_ResignsWithHigherSeqAndLaterExpiry()
    {
        var signer = new NodeRecordSigner(_identity, _time);
        var first = signer.Current(Content());

        _time.Advance(NodeRecordSigner.Lifetime / 2 + TimeSpan.FromSeconds(1));
        var renewed = signer.Current(Content());

        Assert.True(renewed.Seq > first.Seq);
        Assert.True(renewed.ExpiresAt > first.ExpiresAt);
        Assert.True(first.Seq >= Now.ToUnixTimeSeconds());
    }

    [Fact]
    public void Supersedes_HigherSeqOfTheSameNode_WinsAndAnotherNodeNever()
    {
        using var other = NodeIdentity.CreateEphemeral();
        var older = NodeRecord.Create(_identity, Content(), 7, Now.AddHours(1));
        var newer = NodeRecord.Create(_identity, Content(cpu: 1), 8, Now.AddHours(1));
        var stranger = NodeRecord.Create(other, Content(), 99, Now.AddHours(1));

        Assert.True(newer.Supersedes(older));
        Assert.False(older.Supersedes(newer));
        Assert.False(stranger.Supersedes(older));
        Assert.True(older.Supersedes(null));
    }

    [Fact]
    public void Signer_NewSignerAfterRestart_StartsAboveTheOldSeq()
    {
        var before = new NodeRecordSigner(_identity, _time).Current(Content());
        _time.Advance(TimeSpan.FromSeconds(5));

        var after = new NodeRecordSigner(_identity, _time).Current(Content());

        Assert.True(after.Seq > before.Seq);
    }
}
