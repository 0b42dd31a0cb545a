using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Tests.Peers;

[Trait("Suite", "peers")]
public sealed class ReplayGuardTests : IDisposable
{
    private readonly NodeIdentity _identity = NodeIdentity.CreateEphemeral();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 5, 3, 0, 0, TimeSpan.Zero));

    public void Dispose() => _identity.Dispose();

    private JsonObject Hello(ReplayGuard guard) => guard.StampAndSign(new JsonObject { ["type"] = "hello" }, SignatureDomain.PeerHello, _identity);

    [Fact]
    public void Check_FreshMessage_IsAcceptedOnceAndThenReplayed()
    {
        var guard = new ReplayGuard(_time);
        var hello = Hello(guard);

        Assert.Null(guard.Check(hello, SignatureDomain.PeerHello, _identity.PublicKey));
        Assert.Equal(P2pRejection.Replayed, guard.Check(hello, SignatureDomain.PeerHello, _identity.PublicKey)?.Reason);
    }

    [Fact]
    public void Check_TimestampOutsideThreeHundredSeconds_IsStale()
    {
        var sender = new ReplayGuard(_time);
        var hello = Hello(sender);
        var receiver = new ReplayGuard(new FakeTimeProvider(_time.GetUtcNow().AddSeconds(301)));

        Assert.Equal(P2pRejection.Stale, receiver.Check(hello, SignatureDomain.PeerHello, _identity.PublicKey)?.Reason);
    }

    [Fact]
    public void Check_SignatureOfAnotherDomainOrKey_IsRefused()
    {
        using var other = NodeIdentity.CreateEphemeral();
        var guard = new ReplayGuard(_time);
        var group = guard.StampAndSign(new JsonObject { ["type"] = "hello" }, SignatureDomain.Group, _identity);

        Assert.Equal(P2pRejection.BadSignature, guard.Check(group, SignatureDomain.PeerHello, _identity.PublicKey)?.Reason);
        Assert.Equal(P2pRejection.BadSignature, guard.Check(Hello(guard), SignatureDomain.PeerHello, other.PublicKey)?.Reason);
    }

    [Fact]
    public void Check_NonceAfterTheWindow_IsForgotten()
    {
        var guard = new ReplayGuard(_time);
        Assert.Null(guard.Check(Hello(guard), SignatureDomain.PeerHello, _identity.PublicKey));

        _time.Advance(ReplayGuard.Window * 3);

        Assert.Null(guard.Check(Hello(guard), SignatureDomain.PeerHello, _identity.PublicKey));
    }
}
