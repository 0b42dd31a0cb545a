using System.Text.Json.Nodes;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Networking.Peers;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Peers;

/// <summary>
/// Link faults on a peer link, injected by a <see cref="FaultProxy"/> between the dialling node and the other node's
/// P2P port: the dialler shows the link down while it is, and opens it again by itself once the path is back.
/// </summary>
[Trait("Suite", "peers")]
public sealed class PeerFaultTests
{
    [Fact]
    public async Task ResetThenRefused_DiallerListsThePeerNotOpenAndNoOpenLinkThenRelinksOnceThePathIsBack()
    {
        await using var a = await PeerKit.StartNodeAsync();
        await using var proxy = FaultProxy.Start(a.Service<PeerLinkService>().Port);
        var aId = a.Service<NodeIdentity>().NodeId;
        var viaProxy = new PeerAddress(aId, "127.0.0.1", proxy.Port);
        await using var b = await PeerKit.StartNodeAsync(new Dictionary<string, string?> { ["BOOTSTRAP_NODES"] = viaProxy.ToString() });
        await PeerKit.WaitUntilAsync(async () => await LinkAsync(b, aId) == "open", "b did not link to a through the proxy");

        proxy.Mode = FaultProxy.Fault.Refuse;
        proxy.ResetAll();
        await PeerKit.WaitUntilAsync(async () => await LinkAsync(b, aId) != "open", "b did not notice the reset");
        var downLink = await LinkAsync(b, aId);
        var downStatus = await b.Client.GetJsonAsync("/api/network/status");
        var refusedDials = proxy.Accepted;
        await PeerKit.WaitUntilAsync(() => Task.FromResult(proxy.Accepted > refusedDials), "b did not dial again while refused");
        var stillDown = await LinkAsync(b, aId);
        proxy.Mode = FaultProxy.Fault.None;
        await PeerKit.WaitUntilAsync(async () => await LinkAsync(b, aId) == "open", "b did not link again once the path was back");
        var upStatus = await b.Client.GetJsonAsync("/api/network/status");
        var bId = b.Service<NodeIdentity>().NodeId;
        await PeerKit.WaitUntilAsync(async () => await LinkAsync(a, bId) == "open", "a, the answering side, does not list b open once b linked again");
        var answering = await a.Client.GetJsonAsync("/api/network/status");

        Assert.NotEqual("open", downLink);
        Assert.Equal(1, answering["links"]!["open"]!.GetValue<int>());
        Assert.NotEqual("open", stillDown);
        Assert.Equal(0, downStatus["links"]!["open"]!.GetValue<int>());
        Assert.Equal(1, upStatus["links"]!["open"]!.GetValue<int>());
    }

    [Fact]
    public async Task BlockedByThePeer_TheDiallerBacksOffRatherThanRedialAtOnceAndListsTheReason()
    {
        // The blocking node takes the handshake, then closes the link: the dial succeeds, and the link ends at once.
        // The dials are counted as the connections a proxy in front of the blocking node accepts.
        await using var pair = await ProxiedPair.StartAsync(deadAfter: TimeSpan.FromSeconds(45));
        var (a, proxy, b, aId) = (pair.A, pair.Proxy, pair.B, pair.AId);
        var bId = b.Service<NodeIdentity>().NodeId;

        using (var block = await a.Admin.PostAsync($"/api/peers/{bId}/block", null))
        {
            block.EnsureSuccessStatusCode();
        }

        await PeerKit.WaitUntilAsync(
            async () => (await b.PeersAsync()).Any(p => p["id"]!.GetValue<string>() == aId && p["link"]!.GetValue<string>() != "open" && (p["lastError"]?.GetValue<string>() ?? string.Empty).Contains("blocked", StringComparison.Ordinal)),
            "b does not list a closed with the reason");
        var first = proxy.Accepted;
        await Task.Delay(TimeSpan.FromSeconds(3));
        var dials = proxy.Accepted - first;

        // RECONNECT_INTERVAL 200 ms doubling: 0.2 + 0.4 + 0.8 + 1.6 s, so at most about four redials in 3 s (the loop
        // that took the successful dial for a working link redialled hundreds of times a second).
        Assert.InRange(dials, 0, 8);
    }

    [Fact]
    public async Task BlackHole_DiallerSeesTheSilentLinkDeadAndRelinksOnceThePathIsBack()
    {
        // Pings every 100 ms and a link silent for 1 s is dead, on both nodes (CONTRACTS: 15 s and 45 s). A dial made
        // while the path is black-holed gives up after the 2 s hello timeout, and the next one follows the backoff.
        await using var pair = await ProxiedPair.StartAsync(deadAfter: TimeSpan.FromSeconds(1));
        var (a, proxy, b, aId) = (pair.A, pair.Proxy, pair.B, pair.AId);
        var bId = b.Service<NodeIdentity>().NodeId;

        proxy.Mode = FaultProxy.Fault.BlackHole;
        await PeerKit.WaitUntilAsync(async () => await LinkAsync(b, aId) != "open", "b did not find the silent link dead");
        await PeerKit.WaitUntilAsync(async () => await LinkAsync(a, bId) != "open", "a, the answering side, did not find the silent link dead");
        var downStatus = await b.Client.GetJsonAsync("/api/network/status");
        var answeringDown = await a.Client.GetJsonAsync("/api/network/status");
        proxy.Mode = FaultProxy.Fault.None;
        await PeerKit.WaitUntilAsync(async () => await LinkAsync(b, aId) == "open", "b did not link again once the path was back", Timeouts.Long);
        var upStatus = await b.Client.GetJsonAsync("/api/network/status");

        Assert.Equal(0, downStatus["links"]!["open"]!.GetValue<int>());
        Assert.Equal(0, answeringDown["links"]!["open"]!.GetValue<int>());
        Assert.Equal(1, upStatus["links"]!["open"]!.GetValue<int>());
    }

    [Fact]
    public async Task StaleInboundLink_TheSamePeerDialsAgain_TheFreshLinkReplacesItAndIsListedOpen()
    {
        // The first link goes silent, as after a path that drops packets; the node has not found it dead yet (45 s).
        await using var a = await PeerKit.StartNodeAsync();
        using var peer = new HandPeer();
        await using var stale = await peer.DialAsync(a);
        await PeerKit.SendAsync(stale.Socket, peer.Hello());
        Assert.Equal("hello", (await PeerKit.ReceiveAsync(stale.Socket))?["type"]?.GetValue<string>());
        await PeerKit.WaitUntilAsync(async () => await LinkAsync(a, peer.Identity.NodeId) == "open", "a does not list the peer open");

        await using var fresh = await peer.DialAsync(a);
        await PeerKit.SendAsync(fresh.Socket, peer.Hello());
        var hello = await PeerKit.ReceiveAsync(fresh.Socket);
        await PeerKit.SendAsync(fresh.Socket, new JsonObject { ["type"] = "ping", ["id"] = 7 });
        var pong = await ReceiveSkippingPingsAsync(fresh);
        var staleEnd = await DrainAsync(stale);
        var status = await a.Client.GetJsonAsync("/api/network/status");

        Assert.Equal("hello", hello?["type"]?.GetValue<string>());
        Assert.Equal(7, pong?["id"]?.GetValue<int>());
        Assert.StartsWith("duplicate", staleEnd, StringComparison.Ordinal);
        Assert.Equal("open", await LinkAsync(a, peer.Identity.NodeId));
        Assert.Equal(1, status["links"]!["open"]!.GetValue<int>());
    }

    [Fact]
    public async Task TruncatedFrameThenSlowPath_TheLinkOpensAgainByItselfAndItsPingsShowTheDelay()
    {
        await using var pair = await ProxiedPair.StartAsync(deadAfter: TimeSpan.FromSeconds(2));
        var (a, proxy, b, aId) = (pair.A, pair.Proxy, pair.B, pair.AId);
        var bId = b.Service<NodeIdentity>().NodeId;
        var firstConnections = proxy.Accepted;

        // The next frame b sends (a ping, within 100 ms) is cut after 5 bytes and its connection reset.
        proxy.TruncateNext(5);
        await PeerKit.WaitUntilAsync(() => Task.FromResult(proxy.Accepted > firstConnections), "b did not dial again after its frame was cut");
        await PeerKit.WaitUntilAsync(async () => await LinkAsync(b, aId) == "open", "b did not link again after the cut frame");
        proxy.Delay = TimeSpan.FromMilliseconds(60);
        await PeerKit.WaitUntilAsync(async () => await RttAsync(b, aId) >= 60, "b's rttMs for a does not show the 60 ms the path now adds", Timeouts.Long);
        var slowLink = await LinkAsync(b, aId);
        await PeerKit.WaitUntilAsync(async () => await LinkAsync(a, bId) == "open", "a does not list b open over the slow path");
        var answering = await a.Client.GetJsonAsync("/api/network/status");

        Assert.Equal("open", slowLink);
        Assert.Equal(1, answering["links"]!["open"]!.GetValue<int>());
    }

    /// <summary>
    /// Node b linked to node a through a <see cref="FaultProxy"/>, both pinging every 100 ms and finding a link dead after
    /// <c>deadAfter</c> of silence (CONTRACTS: 15 s and 45 s), 2 s to open a link, b redialling from 200 ms.
    /// </summary>
    private sealed class ProxiedPair : IAsyncDisposable
    {
        private ProxiedPair(TestNode a, FaultProxy proxy, TestNode b, string aId) => (A, Proxy, B, AId) = (a, proxy, b, aId);

        public TestNode A { get; }

        public FaultProxy Proxy { get; }

        public TestNode B { get; }

        public string AId { get; }

        public static async Task<ProxiedPair> StartAsync(TimeSpan deadAfter)
        {
            var timings = new PeerLinkTimings { PingInterval = TimeSpan.FromMilliseconds(100), DeadAfter = deadAfter, HelloTimeout = TimeSpan.FromSeconds(2) };
            var settings = new Dictionary<string, string?> { ["RECONNECT_INTERVAL"] = "200" };
            var a = await TestNode.StartAsync(settings, configure: builder => builder.Services.AddSingleton(timings));
            var proxy = FaultProxy.Start(a.Service<PeerLinkService>().Port);
            var aId = a.Service<NodeIdentity>().NodeId;
            settings["BOOTSTRAP_NODES"] = new PeerAddress(aId, "127.0.0.1", proxy.Port).ToString();
            var b = await TestNode.StartAsync(settings, configure: builder => builder.Services.AddSingleton(timings));
            var pair = new ProxiedPair(a, proxy, b, aId);
            await PeerKit.WaitUntilAsync(async () => await LinkAsync(b, aId) == "open", "b did not link to a through the proxy");
            return pair;
        }

        public async ValueTask DisposeAsync()
        {
            await B.DisposeAsync();
            await Proxy.DisposeAsync();
            await A.DisposeAsync();
        }
    }

    /// <summary>Reads until the node closes <paramref name="link"/>; its close description.</summary>
    private static async Task<string?> DrainAsync(PeerConnection link)
    {
        while (await PeerKit.ReceiveAsync(link.Socket) is not null)
        {
        }

        return link.Socket.CloseStatusDescription;
    }

    private static async Task<JsonObject?> ReceiveSkippingPingsAsync(PeerConnection link)
    {
        while (await PeerKit.ReceiveAsync(link.Socket) is { } message)
        {
            if (message["type"]?.GetValue<string>() != "ping")
            {
                return message;
            }
        }

        return null;
    }

    private static async Task<double> RttAsync(TestNode node, string peerId) =>
        (await node.PeersAsync()).FirstOrDefault(p => p["id"]!.GetValue<string>() == peerId)?["rttMs"]?.GetValue<double>() ?? 0;

    private static async Task<string?> LinkAsync(TestNode node, string peerId) =>
        (await node.PeersAsync()).FirstOrDefault(p => p["id"]!.GetValue<string>() == peerId)?["link"]?.GetValue<string>();
}
