using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Tenzro.Node.Core.Aggregation;
using Tenzro.Node.Networking.Peers;

namespace Tenzro.Node.Networking.Aggregation;

/// <summary>
/// The <c>group</c> messages that arrived on peer links, waiting for the aggregation service. A queue between the
/// link service (which dispatches to handlers) and the aggregation service (which uses the links) keeps the two
/// from depending on each other. Each peer's messages pass its <see cref="GroupQuota"/> first, and at most
/// <see cref="GroupQuota.MaxQueuedPerPeer"/> of them wait at once; what is over is dropped and counted in
/// <c>tenzro_aggregation_dropped_total{reason="quota"|"queue"}</c>, and sustained drops exclude the peer.
/// </summary>
/// <remarks>Thread-safe. Bounded: when the service falls behind, the oldest messages are dropped (formation retries).</remarks>
internal sealed partial class GroupInbox
{
    private readonly Channel<(PeerLink Link, JsonObject Message)> _queue;
    private readonly ConcurrentDictionary<string, int> _queued = new(StringComparer.Ordinal);
    private readonly GroupQuota _quota;
    private readonly GroupExclusions _exclusions;
    private readonly Counter<long> _dropped;
    private readonly ILogger _security;

    public GroupInbox(GroupQuota quota, GroupExclusions exclusions, IMeterFactory meters, ILoggerFactory loggers)
    {
        // A message dropped as the oldest leaves its peer's count like one read.
        _queue = Channel.CreateBounded<(PeerLink Link, JsonObject Message)>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropOldest }, Dequeued);
        _quota = quota;
        _exclusions = exclusions;
        _dropped = meters.Create(Core.Tasks.TaskMetrics.MeterName)
            .CreateCounter<long>("tenzro.aggregation.dropped", "{message}", "Group messages dropped before handling: over a peer's group quota (quota) or its queue full (queue).");
        _security = loggers.CreateLogger(Hosting.NodeLogging.SecurityCategory);
    }

    /// <summary>Waits until a message can be read (then <see cref="TryRead"/>).</summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken) => _queue.Reader.WaitToReadAsync(cancellationToken);

    /// <summary>Takes the next message; false when none waits.</summary>
    public bool TryRead(out (PeerLink Link, JsonObject Message) item)
    {
        if (!_queue.Reader.TryRead(out item))
        {
            return false;
        }

        Dequeued(item);
        return true;
    }

    /// <summary>Queues <paramref name="message"/> when its sender is within its quota and queue.</summary>
    public void Post(PeerLink link, JsonObject message)
    {
        var peer = link.PeerId;
        var verdict = _queued.GetValueOrDefault(peer) >= GroupQuota.MaxQueuedPerPeer
            ? Drop(peer, "queue", _quota.QueueFull(peer))
            : Drop(peer, "quota", _quota.Admit(peer, System.Text.Encoding.UTF8.GetByteCount(message.ToJsonString())));
        if (verdict != QuotaVerdict.Admitted)
        {
            return;
        }

        _queued.AddOrUpdate(peer, 1, (_, n) => n + 1);
        _queue.Writer.TryWrite((link, message));
    }

    private QuotaVerdict Drop(string peer, string reason, QuotaVerdict verdict)
    {
        if (verdict == QuotaVerdict.Admitted)
        {
            return verdict;
        }

        _dropped.Add(1, new KeyValuePair<string, object?>("reason", reason));
        if (verdict == QuotaVerdict.DroppedStrike)
        {
            LogOverQuota(_security, Core.Peers.NodeRecord.Short(peer), reason);
            if (_exclusions.Misbehaved(peer, "group_quota") is { } excluded)
            {
                LogExcludedForQuota(_security, Core.Peers.NodeRecord.Short(peer), excluded.Until);
            }
        }

        return verdict;
    }

    private void Dequeued((PeerLink Link, JsonObject Message) item) =>
        _queued.AddOrUpdate(item.Link.PeerId, 0, (_, n) => Math.Max(0, n - 1));

    [LoggerMessage(EventId = 5653, Level = LogLevel.Warning, Message = "Group messages from {Peer} dropped: over its group {Reason}")]
    private static partial void LogOverQuota(ILogger logger, string peer, string reason);

    [LoggerMessage(EventId = 5654, Level = LogLevel.Warning, Message = "Peer {Peer} excluded from this node's groups (group_quota) until {Until}")]
    private static partial void LogExcludedForQuota(ILogger logger, string peer, DateTimeOffset until);
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
