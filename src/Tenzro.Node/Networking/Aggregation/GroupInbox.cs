using System.Text.Json.Nodes;
using System.Threading.Channels;
using Tenzro.Node.Networking.Peers;

namespace Tenzro.Node.Networking.Aggregation;

/// <summary>
/// The <c>group</c> messages that arrived on peer links, waiting for the aggregation service. A queue between the
/// link service (which dispatches to handlers) and the aggregation service (which uses the links) keeps the two
/// from depending on each other.
/// </summary>
/// <remarks>Thread-safe. Bounded: when the service falls behind, the oldest messages are dropped (formation retries).</remarks>
internal sealed class GroupInbox
{
    private readonly Channel<(PeerLink Link, JsonObject Message)> _queue =
        Channel.CreateBounded<(PeerLink, JsonObject)>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropOldest });

    public ChannelReader<(PeerLink Link, JsonObject Message)> Reader => _queue.Reader;

    public void Post(PeerLink link, JsonObject message) => _queue.Writer.TryWrite((link, message));
}

/// <summary>Hands <c>group</c> messages from peer links to the <see cref="GroupInbox"/>.</summary>
internal sealed class GroupMessageHandler(GroupInbox inbox) : IPeerMessageHandler
{
    public string Type => Core.Aggregation.GroupMessages.Type;

    public ValueTask HandleAsync(PeerLink link, JsonObject message, CancellationToken cancellationToken)
    {
        inbox.Post(link, message);
        return ValueTask.CompletedTask;
    }
}
