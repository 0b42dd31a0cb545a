using System.Diagnostics.Metrics;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Networking.Peers;

/// <summary>
/// Peer-link instruments on the node's meter: <c>tenzro_p2p_messages_total{type,direction}</c> and
/// <c>tenzro_p2p_rejected_total{reason}</c> (the gauge <c>tenzro_peer_links_open</c> is registered by the link service).
/// </summary>
/// <remarks>Thread-safe. Message types outside the known list are counted as <c>other</c>, so the label set stays bounded.</remarks>
internal sealed class PeerMetrics
{
    private static readonly HashSet<string> KnownTypes = new(StringComparer.Ordinal) { "hello", "ping", "pong" };
    private readonly Counter<long> _messages;
    private readonly Counter<long> _rejected;
    private readonly HashSet<string> _types;

    public PeerMetrics(IMeterFactory meters, IEnumerable<IPeerMessageHandler> handlers)
    {
        Meter = meters.Create(TaskMetrics.MeterName);
        _messages = Meter.CreateCounter<long>("tenzro.p2p.messages", "{message}", "Peer-link messages by type and direction (in, out).");
        _rejected = Meter.CreateCounter<long>("tenzro.p2p.rejected", "{rejection}", "Peer links and messages refused, by reason.");
        _types = [.. KnownTypes, .. handlers.Select(h => h.Type)];
    }

    public Meter Meter { get; }

    public void Message(string type, string direction) =>
        _messages.Add(1, new KeyValuePair<string, object?>("type", _types.Contains(type) ? type : "other"), new KeyValuePair<string, object?>("direction", direction));

    public void Rejected(string reason) => _rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));
}

/// <summary>Handles one type of message arriving on peer links (registered in DI; one handler per type).</summary>
internal interface IPeerMessageHandler
{
    /// <summary>The <c>type</c> member this handler takes.</summary>
    string Type { get; }

    /// <summary>Handles a message from <paramref name="link"/>; called on the link's receive loop, so it must not block for long.</summary>
    ValueTask HandleAsync(PeerLink link, System.Text.Json.Nodes.JsonObject message, CancellationToken cancellationToken);
}
