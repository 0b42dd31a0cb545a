using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Networking.Peers;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Peers;

[Trait("Suite", "peers")]
[Collection(PeerCountersCollection.Name)]
public sealed class PeerLinkTests
{
    [Fact]
    public async Task Start_TenzroBootstrapEntry_BothNodesListEachOtherOpenWithRtt()
    {
        await using var a = await PeerKit.StartNodeAsync();
        await using var b = await PeerKit.StartNodeAsync(new Dictionary<string, string?> { ["BOOTSTRAP_NODES"] = PeerKit.AddressOf(a).ToString() });
        var aId = a.Service<NodeIdentity>().NodeId;
        var bId = b.Service<NodeIdentity>().NodeId;

        await PeerKit.WaitUntilAsync(async () =>
            (await a.PeersAsync()).Any(p => p["id"]!.GetValue<string>() == bId && p["link"]!.GetValue<string>() == "open")
            && (await b.PeersAsync()).Any(p => p["id"]!.GetValue<string>() == aId && p["link"]!.GetValue<string>() == "open"), "the two nodes did not link");

        var seenByB = (await b.PeersAsync()).Single();
        Assert.Equal(["bootstrap"], seenByB["foundBy"]!.AsArray().Select(f => f!.GetValue<string>()));
        Assert.True(seenByB["rttMs"]!.GetValue<double>() >= 0);
        Assert.Equal("inference", seenByB["tier"]!.GetValue<string>());
        var seenByA = (await a.PeersAsync()).Single();
        Assert.Equal(["inference"], [seenByA["tier"]!.GetValue<string>()]);
        Assert.Contains("inbound", seenByA["foundBy"]!.AsArray().Select(f => f!.GetValue<string>()));
        var status = await a.Client.GetJsonAsync("/api/network/status");
        Assert.Equal(1, status["links"]!["open"]!.GetValue<int>());
        Assert.Equal(32, status["links"]!["max"]!.GetValue<int>());
        Assert.Equal(PeerKit.AddressOf(a).Port, status["p2p"]!["port"]!.GetValue<int>());
    }

    [Fact]
    public async Task Dial_PeerProvesAnotherKey_IsAbortedAsWrongIdBeforeAnyHello()
    {
        await using var a = await PeerKit.StartNodeAsync();
        using var wrong = NodeIdentity.CreateEphemeral();
        using var peer = new HandPeer();
        var address = PeerKit.AddressOf(a) with { NodeId = wrong.NodeId };

        var error = await Assert.ThrowsAsync<PeerLinkException>(() => peer.Transport.DialAsync(address, Timeouts.Token()));

        Assert.Equal(P2pRejection.WrongId, error.Reason);
        Assert.Contains("wrong id", error.Message, StringComparison.Ordinal);
        Assert.Empty(await a.PeersAsync());
    }

    [Fact]
    public async Task Start_BootstrapEntryWithWrongId_ListsTheEntryFailedWithTheReason()
    {
        await using var a = await PeerKit.StartNodeAsync();
        using var wrong = NodeIdentity.CreateEphemeral();
        var entry = PeerKit.AddressOf(a) with { NodeId = wrong.NodeId };
        await using var d = await PeerKit.StartNodeAsync(new Dictionary<string, string?> { ["BOOTSTRAP_NODES"] = entry.ToString() });

        // The entry is redialled every few hundred ms, so it is "connecting" part of the time; wait for a failed listing.
        JsonObject? listed = null;
        await PeerKit.WaitUntilAsync(async () =>
        {
            listed = (await d.PeersAsync()).SingleOrDefault(p => p["link"]!.GetValue<string>() == "failed");
            return listed?["lastError"]?.GetValue<string>().Contains("wrong id", StringComparison.Ordinal) == true;
        }, "the wrong-id entry was not listed failed with its error");

        Assert.Equal(wrong.NodeId, listed!["id"]!.GetValue<string>());
        Assert.Single(await d.PeersAsync());
        Assert.Empty(await a.PeersAsync());
        await d.WaitRejectedAsync(P2pRejection.WrongId);
    }

    [Fact]
    public async Task Hello_SentTwice_SecondIsRefusedAsReplay()
    {
        await using var a = await PeerKit.StartNodeAsync();
        using var peer = new HandPeer();
        var hello = peer.Hello();
        await using (var first = await peer.DialAsync(a))
        {
            await PeerKit.SendAsync(first.Socket, hello);
            var answer = await PeerKit.ReceiveAsync(first.Socket);
            Assert.Equal("hello", answer?["type"]?.GetValue<string>());
        }

        await using var second = await peer.DialAsync(a);
        await PeerKit.SendAsync(second.Socket, hello);
        await DrainAsync(second);

        Assert.StartsWith(P2pRejection.Replayed, second.Socket.CloseStatusDescription, StringComparison.Ordinal);
        await a.WaitRejectedAsync(P2pRejection.Replayed);
    }

    [Fact]
    public async Task Hello_TimestampSixMinutesOld_IsRefusedAsStale()
    {
        await using var a = await PeerKit.StartNodeAsync();
        using var peer = new HandPeer();
        var hello = peer.Hello();
        hello["timestamp"] = Timestamps.Format(DateTimeOffset.UtcNow.AddMinutes(-6));
        DomainSignature.Sign(hello, SignatureDomain.PeerHello, peer.Identity);

        var closed = await RefusedAsync(a, peer, hello);

        Assert.StartsWith(P2pRejection.Stale, closed, StringComparison.Ordinal);
        await a.WaitRejectedAsync(P2pRejection.Stale);
    }

    [Fact]
    public async Task Hello_SignedInTheGroupDomain_IsRefusedAsBadSignature()
    {
        await using var a = await PeerKit.StartNodeAsync();
        using var peer = new HandPeer();

        var closed = await RefusedAsync(a, peer, peer.Hello(domain: SignatureDomain.Group));

        Assert.StartsWith(P2pRejection.BadSignature, closed, StringComparison.Ordinal);
        await a.WaitRejectedAsync(P2pRejection.BadSignature);
    }

    [Fact]
    public async Task Hello_RecordOfAnotherNodeThanTheCertificate_IsRefused()
    {
        await using var a = await PeerKit.StartNodeAsync();
        using var peer = new HandPeer();
        using var victim = NodeIdentity.CreateEphemeral();

        var closed = await RefusedAsync(a, peer, peer.Hello(peer.Record(of: victim)));

        Assert.StartsWith(P2pRejection.Certificate, closed, StringComparison.Ordinal);
        Assert.DoesNotContain(await a.PeersAsync(), p => p["link"]!.GetValue<string>() == "open");
    }

    [Fact]
    public async Task Hello_OtherProtocolMajorVersion_IsRefusedWithTheReasonInLastError()
    {
        await using var a = await PeerKit.StartNodeAsync();
        using var peer = new HandPeer();

        var closed = await RefusedAsync(a, peer, peer.Hello(peer.Record(protocol: "2.0")));

        Assert.StartsWith(P2pRejection.Version, closed, StringComparison.Ordinal);
        var listed = Assert.Single(await a.PeersAsync());
        Assert.Equal(peer.Identity.NodeId, listed["id"]!.GetValue<string>());
        Assert.Equal("failed", listed["link"]!.GetValue<string>());
        Assert.Contains("refused version", listed["lastError"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dial_CertificateWithoutTheBinding_IsRefusedAndTheNodeKeepsServing()
    {
        await using var a = await PeerKit.StartNodeAsync();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var plain = new CertificateRequest("CN=plain", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(1));
        using var usable = X509CertificateLoader.LoadPkcs12(plain.Export(X509ContentType.Pkcs12), null);
        using var peer = new HandPeer(usable);

        // TLS 1.3 checks the client's certificate after the client's side of the handshake is done, so the
        // refusal shows as the connection ending during the WebSocket upgrade.
        var error = await Assert.ThrowsAnyAsync<Exception>(() => peer.DialAsync(a));
        Assert.True(error is PeerLinkException or IOException, error.ToString());

        await a.WaitRejectedAsync(P2pRejection.Certificate);
        Assert.Empty(await a.PeersAsync());
        Assert.Equal(HttpStatusCode.OK, (await a.Client.GetAsync("/health", Timeouts.Token())).StatusCode);
    }

    [Fact]
    public async Task Link_FloodOfMessages_IsCutOffAndCounted()
    {
        await using var a = await PeerKit.StartNodeAsync();
        using var peer = new HandPeer();
        await using var link = await peer.DialAsync(a);
        await PeerKit.SendAsync(link.Socket, peer.Hello());
        Assert.Equal("hello", (await PeerKit.ReceiveAsync(link.Socket))?["type"]?.GetValue<string>());

        try
        {
            for (var i = 0; i < 2000; i++)
            {
                await PeerKit.SendAsync(link.Socket, new JsonObject { ["type"] = "ping", ["id"] = i });
            }
        }
        catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or IOException)
        {
            // Cut off while still sending.
        }

        await a.WaitRejectedAsync(P2pRejection.Flood);
        await PeerKit.WaitUntilAsync(async () => (await a.PeersAsync()).All(p => p["link"]!.GetValue<string>() != "open"), "the flooding peer's link stayed open");
        Assert.Contains(P2pRejection.Flood, (await a.PeersAsync()).Single()["lastError"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Link_Pings_AreAnsweredWithPongsEchoingTheirIdsAndCounted()
    {
        await using var a = await PeerKit.StartNodeAsync();
        using var peer = new HandPeer();
        await using var link = await peer.DialAsync(a);
        await PeerKit.SendAsync(link.Socket, peer.Hello());
        Assert.Equal("hello", (await PeerKit.ReceiveAsync(link.Socket))?["type"]?.GetValue<string>());

        await SendTextAsync(link.Socket, "{\"id\":12345678901234,\"type\":\"ping\"}");
        var pong = await PeerKit.ReceiveAsync(link.Socket);
        Assert.Equal("pong", pong?["type"]?.GetValue<string>());
        Assert.Equal(12345678901234, pong?["id"]?.GetValue<long>());
        await SendTextAsync(link.Socket, "{\"type\":\"\\u0070ing\",\"id\":-7}");
        Assert.Equal(-7, (await PeerKit.ReceiveAsync(link.Socket))?["id"]?.GetValue<long>());
        await PeerKit.SendAsync(link.Socket, new JsonObject { ["type"] = "ping", ["id"] = "text" });
        Assert.Equal("text", (await PeerKit.ReceiveAsync(link.Socket))?["id"]?.GetValue<string>());
        await PeerKit.WaitUntilAsync(async () => await a.MessagesAsync("ping", "in") >= 3 && await a.MessagesAsync("pong", "out") >= 3, "the pings and pongs were not counted");

        await SendTextAsync(link.Socket, "{\"type\":\"ping\",\"id\":1}x");
        await a.WaitRejectedAsync(P2pRejection.Malformed);
        // The node's own pings may still arrive before its close; no answer to the malformed frame does.
        JsonObject? after;
        while ((after = await PeerKit.ReceiveAsync(link.Socket)) is { } frame && frame["type"]?.GetValue<string>() == "ping")
        {
        }

        Assert.Null(after);
    }

    [Fact]
    public async Task Link_FrameOver64KiBBeforeHello_IsCutOffAsOversized()
    {
        await using var a = await PeerKit.StartNodeAsync();
        using var peer = new HandPeer();
        var closed = await RefusedAsync(a, peer, new JsonObject { ["type"] = "hello", ["padding"] = new string('x', 70 * 1024) });

        Assert.StartsWith(P2pRejection.Oversized, closed, StringComparison.Ordinal);
        await a.WaitRejectedAsync(P2pRejection.Oversized);
    }

    [Fact]
    public async Task Listener_MaxPeerLinksOpen_RefusesTheNextPeerBeforeTls()
    {
        await using var a = await PeerKit.StartNodeAsync(new Dictionary<string, string?> { ["MAX_PEER_LINKS"] = "1" });
        using var first = new HandPeer();
        using var second = new HandPeer();
        await using var open = await first.DialAsync(a);
        await PeerKit.SendAsync(open.Socket, first.Hello());
        Assert.Equal("hello", (await PeerKit.ReceiveAsync(open.Socket))?["type"]?.GetValue<string>());

        await Assert.ThrowsAnyAsync<Exception>(() => second.DialAsync(a));

        await a.WaitRejectedAsync(P2pRejection.Limit);
        var listed = Assert.Single(await a.PeersAsync());
        Assert.Equal(first.Identity.NodeId, listed["id"]!.GetValue<string>());
        Assert.Equal("open", listed["link"]!.GetValue<string>());
    }

    [Fact]
    public async Task Listener_PathOtherThanP2p_Is404()
    {
        await using var a = await PeerKit.StartNodeAsync();
        using var peer = new HandPeer();
        var address = PeerKit.AddressOf(a);
        var socket = await PeerTransport.ConnectTcpAsync(address, Timeouts.Token());
        var (stream, _) = await peer.Transport.AuthenticateAsClientAsync(socket, address.NodeId, Timeouts.Token());
        await using var _ = stream;

        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /api/tasks HTTP/1.1\r\nHost: x\r\n\r\n"), Timeouts.Token());
        var buffer = new byte[256];
        var read = await stream.ReadAsync(buffer, Timeouts.Token());

        Assert.StartsWith("HTTP/1.1 404", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Listener_OnlyTls13_RefusesTls12()
    {
        await using var a = await PeerKit.StartNodeAsync();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, PeerKit.AddressOf(a).Port, Timeouts.Token());
        await using var ssl = new SslStream(client.GetStream(), false, (_, certificate, _, _) => PeerCertificate.ProvenKey(certificate, DateTimeOffset.UtcNow, out _) is not null);

        await Assert.ThrowsAnyAsync<Exception>(() => ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "tenzro",
            EnabledSslProtocols = SslProtocols.Tls12,
        }, Timeouts.Token()));
    }

    [Fact]
    public async Task Start_P2pPortInUse_HealthIsDegradedWithTheReasonAndTheApiServes()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        await using var a = await PeerKit.StartNodeAsync(new Dictionary<string, string?> { ["LOCAL_DISCOVERY_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var health = await a.Client.GetJsonAsync("/health");

        Assert.Equal("degraded", health["status"]!.GetValue<string>());
        Assert.Equal("degraded", health["checks"]!["p2p"]!["status"]!.GetValue<string>());
        Assert.Contains($"127.0.0.1:{port}", health["checks"]!["p2p"]!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        var status = await a.Client.GetJsonAsync("/api/network/status");
        Assert.Equal("failed", status["p2p"]!["state"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await a.Client.GetAsync("/status", Timeouts.Token())).StatusCode);
    }

    /// <summary>Dials <paramref name="node"/>, sends <paramref name="first"/> and returns the reason the node closed the link with.</summary>
    private static async Task<string?> RefusedAsync(TestNode node, HandPeer peer, JsonObject first)
    {
        await using var link = await peer.DialAsync(node);
        await PeerKit.SendAsync(link.Socket, first);
        await DrainAsync(link);
        return link.Socket.CloseStatusDescription;
    }

    /// <summary>Reads until the node closes the link (its reason is then in the close description).</summary>
    private static async Task DrainAsync(PeerConnection link)
    {
        while (await PeerKit.ReceiveAsync(link.Socket) is not null)
        {
        }
    }

    private static Task SendTextAsync(System.Net.WebSockets.WebSocket socket, string text) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), System.Net.WebSockets.WebSocketMessageType.Text, true, Timeouts.Token());
}

/// <summary>
/// The peer-link tests read the message counters of <c>/api/metrics</c>. Every in-process node's meters share one
/// name, so nodes of other tests running at the same time could stand in the way of those counts; these tests run alone.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PeerCountersCollection
{
    public const string Name = "peer counters";
}
