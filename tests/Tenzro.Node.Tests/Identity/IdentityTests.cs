using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Regional;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Identity;

[Trait("Suite", "identity")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class IdentityTests : IDisposable
{
    private readonly string _directory = TestNode.NewDirectory();

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void LoadOrCreate_FirstStart_CreatesKeyReadableOnlyByOwner()
    {
        using var identity = NodeIdentity.LoadOrCreate(_directory, null);
        var mode = File.GetUnixFileMode(Path.Combine(_directory, "node.key"));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(identity.PublicKey)), identity.PeerId);
        Assert.Equal(32, identity.PublicKey.Length);
    }

    [Fact]
    public void FromPrivateKey_TheKeyFileBytes_IsTheSameNode()
    {
        string nodeId;
        using (var fromFile = NodeIdentity.LoadOrCreate(_directory, null))
        {
            nodeId = fromFile.NodeId;
        }

        var key = File.ReadAllBytes(Path.Combine(_directory, "node.key"));

        using var fromSetting = NodeIdentity.FromPrivateKey(key, null);

        Assert.Equal(nodeId, fromSetting.NodeId);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(fromSetting.PublicKey)), fromSetting.NodeId);
        Assert.Throws<IdentityException>(() => NodeIdentity.FromPrivateKey(key.AsSpan(0, 31), null));
    }

    [Fact]
    public void LoadOrCreate_Restart_KeepsThePeerId()
    {
        string first;
        using (var identity = NodeIdentity.LoadOrCreate(_directory, null))
        {
            first = identity.PeerId;
        }

        using var again = NodeIdentity.LoadOrCreate(_directory, null);

        Assert.Equal(first, again.PeerId);
    }

    [Fact]
    public void LoadOrCreate_DeviceIdSet_UsesItAsPeerIdButKeepsNodeId()
    {
        using var identity = NodeIdentity.LoadOrCreate(_directory, "node-7f3a");

        Assert.Equal("node-7f3a", identity.PeerId);
        Assert.Matches("^[0-9a-f]{64}$", identity.NodeId);
    }

    [Fact]
    public void LoadOrCreate_WorldReadableKey_RefusesWithTheFix()
    {
        NodeIdentity.LoadOrCreate(_directory, null).Dispose();
        var path = Path.Combine(_directory, "node.key");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        var error = Assert.Throws<IdentityException>(() => NodeIdentity.LoadOrCreate(_directory, null));

        Assert.Contains("chmod 600", error.Message);
    }

    [Fact]
    public void SignedEnvelope_SignThenVerify_IsValid()
    {
        using var identity = NodeIdentity.CreateEphemeral();
        var now = DateTimeOffset.UtcNow;
        var message = SignedEnvelope.Sign(new JsonObject { ["type"] = "join", ["peerId"] = identity.PeerId, ["nodeTier"] = "inference" }, identity, now);

        var result = SignedEnvelope.Verify(System.Text.Encoding.UTF8.GetBytes(message.ToJsonString()), 1 << 20, now, identity.PublicKey);

        Assert.True(result.IsValid, result.Reason);
        Assert.Equal(64, Convert.FromBase64String(message["signature"]!.GetValue<string>()).Length);
    }

    [Fact]
    public void SignedEnvelope_FieldChangedAfterSigning_FailsVerification()
    {
        using var identity = NodeIdentity.CreateEphemeral();
        var now = DateTimeOffset.UtcNow;
        var message = SignedEnvelope.Sign(new JsonObject { ["type"] = "node_status", ["peerId"] = identity.PeerId, ["earnings"] = 1 }, identity, now);
        message["earnings"] = 1000;

        var result = SignedEnvelope.Verify(message, now);

        Assert.False(result.IsValid);
        Assert.Equal("signature does not verify", result.Reason);
    }

    [Fact]
    public void SignedEnvelope_OtherKeyThanBound_FailsVerification()
    {
        using var identity = NodeIdentity.CreateEphemeral();
        using var other = NodeIdentity.CreateEphemeral();
        var now = DateTimeOffset.UtcNow;
        var message = SignedEnvelope.Sign(new JsonObject { ["type"] = "leave", ["peerId"] = identity.PeerId }, other, now);

        Assert.False(SignedEnvelope.Verify(message, now, identity.PublicKey).IsValid);
    }

    [Fact]
    public void SignedEnvelope_TimestampFarOff_FailsVerification()
    {
        using var identity = NodeIdentity.CreateEphemeral();
        var signedAt = DateTimeOffset.UtcNow;
        var message = SignedEnvelope.Sign(new JsonObject { ["type"] = "leave", ["peerId"] = identity.PeerId }, identity, signedAt);

        var result = SignedEnvelope.Verify(message, signedAt + TimeSpan.FromSeconds(301));

        Assert.False(result.IsValid);
        Assert.Contains("300 s", result.Reason);
    }

    [Fact]
    public void SignedEnvelope_OversizedFrame_IsRefusedBeforeParsing()
    {
        var frame = new byte[2048];

        var result = SignedEnvelope.Verify(frame, 1024, DateTimeOffset.UtcNow);

        Assert.False(result.IsValid);
        Assert.Contains("exceeds the limit", result.Reason);
    }

    [Fact]
    public void SignedBytes_StartWithTheDomainAndZeroByte()
    {
        var bytes = SignedEnvelope.SignedBytes(new JsonObject { ["b"] = 1, ["a"] = "x", ["signature"] = "ignored" });

        Assert.Equal("tenzro-msg-v1\0{\"a\":\"x\",\"b\":1}", System.Text.Encoding.UTF8.GetString(bytes));
    }
}
