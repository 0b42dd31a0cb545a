using System.Text.Json.Nodes;
using Tenzro.Node.Core.Dht;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Fuzz;

/// <summary>
/// A datagram on the DHT's UDP port, read as the host reads it (<see cref="DhtWire.Decode"/>: size, JSON, shape,
/// signature, replay guard), then, since AFL++ cannot sign, the same JSON signed by a sender's key and handed to a
/// node as a verified message would be: answered, stored or matched to a request. Each object in <c>records</c> is
/// made a record of the sender first (its id, key and a current expiry) and signed in the node-record domain, so that
/// mutations of a record's content reach the record checks and the store behind the signature. A refusal is an
/// answer; only an exception escaping is a crash.
/// </summary>
/// <remarks>Not thread-safe: one input at a time.</remarks>
public static class DhtFuzzTarget
{
    private const string From = "198.51.100.7:8081";

    private static readonly Lazy<(NodeIdentity Sender, NodeIdentity Receiver)> Identities = new(() => (NodeIdentity.CreateEphemeral(), NodeIdentity.CreateEphemeral()));

    public static void Datagram(byte[] input) => Deliver(input);

    /// <summary>Runs one input; the node that received the signed message, or null when it was refused before.</summary>
    public static DhtNode? Deliver(byte[] input)
    {
        var (sender, receiver) = Identities.Value;
        var guard = new ReplayGuard(TimeProvider.System);
        var read = DhtWire.Decode(input, guard, out var refusal);
        if ((read is null) == (refusal is null))
        {
            throw new InvalidOperationException("a datagram neither read nor refused with a reason");
        }

        if (!StrictJson.TryParse(input, out var parsed, out _) || parsed is not JsonObject json)
        {
            return null;
        }

        if (json["records"] is JsonArray records)
        {
            foreach (var record in records.OfType<JsonObject>())
            {
                record["id"] = sender.NodeId;
                record["publicKey"] = sender.PublicKeyBase64;
                record["expiresAt"] = Timestamps.Format(DateTimeOffset.UtcNow.AddMinutes(30));
                DomainSignature.Sign(record, SignatureDomain.NodeRecord, sender);
            }
        }

        json["key"] = sender.PublicKeyBase64;
        guard.StampAndSign(json, SignatureDomain.DhtRpc, sender);
        var message = DhtWire.Decode(CanonicalJson.Serialize(json), guard, out _);
        if (message is null)
        {
            return null;
        }

        var node = new DhtNode(DhtId.Parse(receiver.NodeId), new Replies(receiver), TimeProvider.System);
        node.Receive(From, message);
        foreach (var datagram in DhtWire.Encode(message, sender, guard))
        {
            if (datagram.Length > DhtWire.MaxDatagram)
            {
                throw new InvalidOperationException($"a {datagram.Length}-byte datagram was encoded");
            }
        }

        return node;
    }

    /// <summary>Encodes each reply as the UDP transport would, and drops it.</summary>
    private sealed class Replies(NodeIdentity identity) : IDhtTransport
    {
        private readonly ReplayGuard _guard = new(TimeProvider.System);

        public void Send(string endpoint, DhtMessage message) => _ = DhtWire.Encode(message, identity, _guard);
    }
}
