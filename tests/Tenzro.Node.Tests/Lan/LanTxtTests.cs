using System.Text;
using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Lan;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Tests.Lan;

[Trait("Suite", "lan")]
public sealed class LanTxtTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 6, 0, 0, TimeSpan.Zero);
    private readonly NodeIdentity _identity = NodeIdentity.CreateEphemeral();

    public void Dispose() => _identity.Dispose();

    private LanTxt Signed(int port = 8081) => LanTxt.Create(_identity, "aggregator", port, 42, Now + TimeSpan.FromMinutes(10));

    [Fact]
    public void Create_Strings_HaveEveryKeyEachUnder255Bytes()
    {
        var strings = Signed().Strings();

        Assert.Equal(["id", "pk", "tier", "v", "seq", "exp", "sig"], strings.Select(s => s[..s.IndexOf('=', StringComparison.Ordinal)]));
        Assert.All(strings, s => Assert.True(Encoding.UTF8.GetByteCount(s) < 255, s));
        Assert.Contains("id=" + _identity.NodeId, strings);
        Assert.Contains("pk=" + _identity.PublicKeyBase64, strings);
        Assert.Contains("seq=42", strings);
        Assert.Contains("exp=2026-12-05T06:10:00.000Z", strings);
    }

    [Fact]
    public void Read_SignedStrings_GivesTheRecordBack()
    {
        var txt = Signed();

        var read = LanTxt.Read(txt.Strings(), 8081, txt.Label, Now, out var refusal);

        Assert.Null(refusal);
        Assert.Equal(_identity.NodeId, read!.Id);
        Assert.Equal("aggregator", read.Tier);
        Assert.Equal(42, read.Seq);
        Assert.Equal("tenzro-" + _identity.NodeId[..16], read.Label);
    }

    [Fact]
    public void Read_AnotherSrvPort_IsRefusedAsBadSignature()
    {
        var txt = Signed(8081);

        LanTxt.Read(txt.Strings(), 9999, txt.Label, Now, out var refusal);

        Assert.Equal(P2pRejection.BadSignature, refusal!.Reason);
    }

    [Fact]
    public void Read_ChangedTier_IsRefusedAsBadSignature()
    {
        var strings = Signed().Strings().Select(s => s.StartsWith("tier=", StringComparison.Ordinal) ? "tier=training" : s).ToList();

        LanTxt.Read(strings, 8081, Signed().Label, Now, out var refusal);

        Assert.Equal(P2pRejection.BadSignature, refusal!.Reason);
    }

    [Fact]
    public void Read_NoSignature_IsRefusedAsUnsigned()
    {
        var strings = Signed().Strings().Where(s => !s.StartsWith("sig=", StringComparison.Ordinal)).ToList();

        LanTxt.Read(strings, 8081, Signed().Label, Now, out var refusal);

        Assert.Equal(P2pRejection.BadSignature, refusal!.Reason);
        Assert.Contains("no sig", refusal.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_KeyOfAnotherNode_IsRefusedAsIdMismatch()
    {
        using var other = NodeIdentity.CreateEphemeral();
        var strings = Signed().Strings().Select(s => s.StartsWith("pk=", StringComparison.Ordinal) ? "pk=" + other.PublicKeyBase64 : s).ToList();

        LanTxt.Read(strings, 8081, Signed().Label, Now, out var refusal);

        Assert.Equal(P2pRejection.IdMismatch, refusal!.Reason);
    }

    [Fact]
    public void Read_LabelOfAnotherNode_IsRefusedAsIdMismatch()
    {
        LanTxt.Read(Signed().Strings(), 8081, "tenzro-0000000000000000", Now, out var refusal);

        Assert.Equal(P2pRejection.IdMismatch, refusal!.Reason);
    }

    [Fact]
    public void Read_AfterExp_IsRefusedAsExpired()
    {
        var txt = Signed();

        LanTxt.Read(txt.Strings(), 8081, txt.Label, Now + TimeSpan.FromMinutes(11), out var refusal);

        Assert.Equal(P2pRejection.Expired, refusal!.Reason);
    }

    [Theory]
    [InlineData("seq=")]
    [InlineData("seq=-1")]
    [InlineData("exp=tomorrow")]
    [InlineData("pk=***")]
    public void Read_UnreadableValue_IsRefusedAsMalformed(string replacement)
    {
        var key = replacement[..(replacement.IndexOf('=', StringComparison.Ordinal) + 1)];
        var strings = Signed().Strings().Select(s => s.StartsWith(key, StringComparison.Ordinal) ? replacement : s).ToList();

        LanTxt.Read(strings, 8081, Signed().Label, Now, out var refusal);

        Assert.Equal(P2pRejection.Malformed, refusal!.Reason);
    }

    [Fact]
    public void Read_KeyTwice_IsRefusedAsMalformed()
    {
        var strings = Signed().Strings().Append("tier=training").ToList();

        LanTxt.Read(strings, 8081, Signed().Label, Now, out var refusal);

        Assert.Equal(P2pRejection.Malformed, refusal!.Reason);
    }

    [Fact]
    public void Signature_MadeForTheMdnsTxtDomain_DoesNotVerifyAsNodeRecord()
    {
        var txt = Signed();
        var asRecord = new System.Text.Json.Nodes.JsonObject
        {
            ["id"] = txt.Id,
            ["pk"] = _identity.PublicKeyBase64,
            ["tier"] = txt.Tier,
            ["v"] = txt.Version,
            ["seq"] = "42",
            ["exp"] = "2026-12-05T06:10:00.000Z",
            ["port"] = 8081,
            ["signature"] = txt.Signature,
        };

        Assert.True(DomainSignature.Verify(asRecord, SignatureDomain.MdnsTxt, _identity.PublicKey));
        Assert.False(DomainSignature.Verify(asRecord, SignatureDomain.NodeRecord, _identity.PublicKey));
    }

    [Fact]
    public void Protocol_Txt_IsResignedWithAHigherSeqWhenThePortChangesOrHalfItsLifetimePassed()
    {
        var time = new FakeTimeProvider(Now);
        var protocol = new LanDiscoveryProtocol(_identity, time);

        var first = protocol.Txt("inference", 8081, out var changed1);
        var same = protocol.Txt("inference", 8081, out var changed2);
        var moved = protocol.Txt("inference", 9000, out var changed3);
        time.Advance(LanDiscoveryProtocol.TxtLifetime / 2);
        var renewed = protocol.Txt("inference", 9000, out var changed4);

        Assert.True(changed1);
        Assert.False(changed2);
        Assert.Same(first, same);
        Assert.True(changed3);
        Assert.True(moved.Seq > first.Seq);
        Assert.True(changed4);
        Assert.True(renewed.Seq > moved.Seq);
        Assert.True(first.Seq >= Now.ToUnixTimeSeconds());
    }
}
