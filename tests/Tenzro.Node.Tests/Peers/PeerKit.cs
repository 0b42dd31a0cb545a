using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Networking.Peers;
using Tenzro.Node.Tests.Support;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Peers;

/// <summary>Helpers for peer-link tests: in-process nodes, their P2P address, and a hand-driven peer that can misbehave.</summary>
internal static class PeerKit
{
    public static Task<TestNode> StartNodeAsync(IDictionary<string, string?>? overrides = null)
    {
        var values = new Dictionary<string, string?> { ["RECONNECT_INTERVAL"] = "200" };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        return TestNode.StartAsync(values);
    }

    public static PeerAddress AddressOf(TestNode node) =>
        new(node.Service<NodeIdentity>().NodeId, "127.0.0.1", node.Service<PeerLinkService>().Port);

    public static async Task<IReadOnlyList<JsonObject>> PeersAsync(this TestNode node) =>
        [.. (await node.Client.GetJsonAsync("/api/peers"))["peers"]!.AsArray().OfType<JsonObject>()];

    /// <summary>Polls <paramref name="condition"/> until true; fails with <paramref name="what"/> after the timeout.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeouts.Short);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what} (not within {timeout ?? Timeouts.Short})");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>The value of <c>tenzro.p2p.rejected</c> for <paramref name="reason"/> in <c>/api/metrics</c>.</summary>
    public static async Task<long> RejectedAsync(this TestNode node, string reason)
    {
        var metrics = await node.Client.GetJsonAsync("/api/metrics");
        return metrics["metrics"]?["tenzro.p2p.rejected"]?["points"]?.AsArray()
            .Where(p => p!["tags"]?["reason"]?.GetValue<string>() == reason)
            .Sum(p => p!["value"]!.GetValue<long>()) ?? 0;
    }

    /// <summary>The value of <c>tenzro.p2p.messages</c> for <paramref name="type"/> and <paramref name="direction"/> in <c>/api/metrics</c>.</summary>
    public static async Task<long> MessagesAsync(this TestNode node, string type, string direction)
    {
        var metrics = await node.Client.GetJsonAsync("/api/metrics");
        return metrics["metrics"]?["tenzro.p2p.messages"]?["points"]?.AsArray()
            .Where(p => p!["tags"]?["type"]?.GetValue<string>() == type && p!["tags"]?["direction"]?.GetValue<string>() == direction)
            .Sum(p => p!["value"]!.GetValue<long>()) ?? 0;
    }

    public static Task WaitRejectedAsync(this TestNode node, string reason) =>
        WaitUntilAsync(async () => await node.RejectedAsync(reason) > 0, $"no tenzro.p2p.rejected{{reason={reason}}} counted");

    /// <summary>Reads the next message; null when the peer closed the link (its reason in <paramref name="socket"/>'s close description) or reset it.</summary>
    public static async Task<JsonObject?> ReceiveAsync(WebSocket socket)
    {
        var buffer = new byte[2 * 1024 * 1024];
        var count = 0;
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(count), Timeouts.Token());
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return null;
                }

                count += result.Count;
                if (result.EndOfMessage)
                {
                    return JsonNode.Parse(buffer.AsSpan(0, count))!.AsObject();
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException)
        {
            return null;
        }
    }

    public static Task SendAsync(WebSocket socket, JsonObject message) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, Timeouts.Token());
}

/// <summary>A peer driven by the test: its own identity and certificate, and hellos it builds as the test wants them.</summary>
internal sealed class HandPeer : IDisposable
{
    public HandPeer(System.Security.Cryptography.X509Certificates.X509Certificate2? certificate = null)
    {
        Transport = new PeerTransport(Identity, TimeProvider.System, certificate);
    }

    public NodeIdentity Identity { get; } = NodeIdentity.CreateEphemeral();

    public PeerTransport Transport { get; }

    public ReplayGuard Guard { get; } = new(TimeProvider.System);

    public NodeRecord Record(string protocol = NodeRecord.ProtocolVersion, NodeIdentity? of = null) => NodeRecord.Create(of ?? Identity, new NodeRecordContent
    {
        Version = "1.0.0",
        Protocol = protocol,
        Tier = "inference",
        QualifiedTier = "inference",
        Region = "us-east",
        Arch = "x64",
        Free = new ResourceAmounts(1, 1024, 1024, 0, 0),
    }, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddHours(1));

    /// <summary>A valid hello, signed in <paramref name="domain"/>.</summary>
    public JsonObject Hello(NodeRecord? record = null, SignatureDomain domain = SignatureDomain.PeerHello) =>
        Guard.StampAndSign(new JsonObject { ["type"] = "hello", ["record"] = (record ?? Record()).Json.DeepClone() }, domain, Identity);

    public Task<PeerConnection> DialAsync(TestNode node) => Transport.DialAsync(PeerKit.AddressOf(node), Timeouts.Token());

    public void Dispose() => Identity.Dispose();
}
