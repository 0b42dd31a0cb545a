using System.Text.Json.Nodes;

namespace Tenzro.Node.Core.Dht;

/// <summary>The RPCs of the DHT and their replies (the <c>t</c> member on the wire).</summary>
public enum DhtMessageType
{
    Ping,
    Pong,
    Store,
    Stored,
    FindNode,
    Nodes,
    FindValue,
    Values,
}

/// <summary>
/// One DHT message as the node logic sees it, before signing or after verification. A reply that does not fit
/// one datagram is sent as <see cref="Parts"/> messages with the same <see cref="RequestId"/>, each complete and
/// signed on its own, numbered by <see cref="Part"/> from 0. Immutable.
/// </summary>
public sealed record DhtMessage
{
    public required DhtMessageType Type { get; init; }

    /// <summary>16 hex digits chosen by the requester; a reply carries the request's.</summary>
    public required string RequestId { get; init; }

    /// <summary>The sender's node id (the SHA-256 of the key that signed the message).</summary>
    public required DhtId Sender { get; init; }

    /// <summary>FIND_NODE and FIND_VALUE: the id or key looked up; STORE: the key the records go under.</summary>
    public DhtId? Target { get; init; }

    /// <summary>NODES and VALUES: the closest contacts the replier knows.</summary>
    public IReadOnlyList<DhtContact> Contacts { get; init; } = [];

    /// <summary>STORE and VALUES: signed node records, as they travel.</summary>
    public IReadOnlyList<JsonObject> Records { get; init; } = [];

    /// <summary>STORED: how many of the records were kept.</summary>
    public int Accepted { get; init; }

    /// <summary>
    /// FIND_VALUE: records the asker holds already under the key (at most <see cref="DhtWire.MaxHave"/>), which the
    /// holder leaves out of its reply unless it keeps a newer one.
    /// </summary>
    public IReadOnlyList<HeldRecord> Have { get; init; } = [];

    /// <summary>FIND_VALUE: asked again of a holder that answered already, so its reply carries records only, no contacts.</summary>
    public bool RecordsOnly { get; init; }

    /// <summary>VALUES: the reply carries every live record the holder keeps under the key, less those in the request's <see cref="Have"/>.</summary>
    public bool Complete { get; init; }

    /// <summary>Whether <paramref name="record"/> is one the asker listed in <see cref="Have"/> at its version or a newer one.</summary>
    public bool Has(Peers.NodeRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        foreach (var held in Have)
        {
            if (record.Id.StartsWith(held.Id, StringComparison.Ordinal) && record.Seq <= held.Seq)
            {
                return true;
            }
        }

        return false;
    }

    public int Part { get; init; }

    public int Parts { get; init; } = 1;

    public bool IsRequest => Type is DhtMessageType.Ping or DhtMessageType.Store or DhtMessageType.FindNode or DhtMessageType.FindValue;

    public static string WireName(DhtMessageType type) => type switch
    {
        DhtMessageType.Ping => "ping",
        DhtMessageType.Pong => "pong",
        DhtMessageType.Store => "store",
        DhtMessageType.Stored => "stored",
        DhtMessageType.FindNode => "find_node",
        DhtMessageType.Nodes => "nodes",
        DhtMessageType.FindValue => "find_value",
        DhtMessageType.Values => "values",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a DHT message type"),
    };

    public static DhtMessageType? FromWireName(string? name) => name switch
    {
        "ping" => DhtMessageType.Ping,
        "pong" => DhtMessageType.Pong,
        "store" => DhtMessageType.Store,
        "stored" => DhtMessageType.Stored,
        "find_node" => DhtMessageType.FindNode,
        "nodes" => DhtMessageType.Nodes,
        "find_value" => DhtMessageType.FindValue,
        "values" => DhtMessageType.Values,
        _ => null,
    };
}

/// <summary>A record a FIND_VALUE asker holds: the short form of its node id (16 hex digits) and its <c>seq</c>.</summary>
public readonly record struct HeldRecord(string Id, long Seq)
{
    public const int IdLength = 16;
}

/// <summary>
/// Sends DHT messages to an endpoint (<c>host:port</c>). The UDP transport signs each message in the <c>dht-rpc</c>
/// domain and sends it as one datagram; the tests' in-memory network hands it over after the latency each test sets.
/// Received messages go to <see cref="DhtNode.Receive"/>.
/// </summary>
/// <remarks>Implementations must not block and must not call back into the node on the calling thread.</remarks>
public interface IDhtTransport
{
    /// <summary>Sends <paramref name="message"/>; the UDP transport splits a reply that does not fit one datagram.</summary>
    void Send(string endpoint, DhtMessage message);
}
