using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Networking.Peers;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.IntegrationTests;

/// <summary>
/// A peer run by the test on the node's own peer-link classes: its own identity, the identity-bound certificate over
/// TLS 1.3, the WebSocket at <c>/p2p</c> and a signed hello, then <c>group</c> messages as the test builds them
/// (valid, tampered, or claiming another author). What the node sends back is read and discarded.
/// </summary>
internal sealed class GroupPeer : IAsyncDisposable
{
    private readonly NodeIdentity _identity = NodeIdentity.CreateEphemeral();
    private readonly CancellationTokenSource _stop = new();
    private PeerConnection? _connection;
    private Task? _reading;

    public string Id => _identity.NodeId;

    /// <summary>Stamps and signs this peer's messages in the <c>group</c> domain.</summary>
    public ReplayGuard Guard { get; } = new(TimeProvider.System);

    public NodeIdentity Identity => _identity;

    /// <summary>Dials the node <paramref name="nodeId"/> at 127.0.0.1:<paramref name="p2pPort"/> and exchanges hellos.</summary>
    public static async Task<GroupPeer> LinkAsync(string nodeId, int p2pPort, CancellationToken cancellationToken)
    {
        var peer = new GroupPeer();
        var transport = new PeerTransport(peer._identity, TimeProvider.System);
        peer._connection = await transport.DialAsync(new PeerAddress(nodeId, "127.0.0.1", p2pPort), cancellationToken);
        var hello = new JsonObject { ["type"] = "hello", ["record"] = peer.Record().Json.DeepClone() };
        await peer.SendAsync(peer.Guard.StampAndSign(hello, SignatureDomain.PeerHello, peer._identity), cancellationToken);
        var answer = await peer.ReceiveAsync(cancellationToken);
        if (answer?["type"]?.GetValue<string>() != "hello")
        {
            throw new InvalidOperationException($"the node answered the hello with {answer?.ToJsonString() ?? "a close: " + peer._connection.Socket.CloseStatusDescription}");
        }

        peer._reading = peer.DiscardAsync();
        return peer;
    }

    public Task SendAsync(JsonObject message, CancellationToken cancellationToken) =>
        _connection!.Socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }

        if (_reading is not null)
        {
            await _reading;
        }

        _stop.Dispose();
        _identity.Dispose();
    }

    private NodeRecord Record() => NodeRecord.Create(_identity, new NodeRecordContent
    {
        Version = "1.0.0",
        Protocol = NodeRecord.ProtocolVersion,
        // Below MIN_AGGREGATION_TIER: the node lists it as a candidate but never proposes a group to it.
        Tier = "inference",
        QualifiedTier = "inference",
        Region = "us-east",
        Arch = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(),
        Free = new ResourceAmounts(1, 1024, 1024, 0, 0),
    }, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddHours(1));

    private async Task<JsonObject?> ReceiveAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[1024 * 1024];
        var count = 0;
        while (true)
        {
            var result = await _connection!.Socket.ReceiveAsync(buffer.AsMemory(count), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            count += result.Count;
            if (result.EndOfMessage)
            {
                return JsonNode.Parse(buffer.AsSpan(0, count))?.AsObject();
            }
        }
    }

    /// <summary>Reads (and drops) what the node sends, pings and declines included, until the link ends.</summary>
    private async Task DiscardAsync()
    {
        try
        {
            while (await ReceiveAsync(_stop.Token) is not null)
            {
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException or System.Text.Json.JsonException)
        {
            // The link ended.
        }
    }
}
