namespace Tenzro.Node.Core.Dht;

public sealed partial class DhtNode
{
    private readonly Dictionary<string, PendingRequest> _pending = new(StringComparer.Ordinal);
    private readonly Dictionary<int, DhtContact> _probing = [];
    private readonly RoundTripTimes _roundTrips;

    /// <summary>
    /// Sends <paramref name="request"/> to <paramref name="endpoint"/> (expecting <paramref name="expected"/> to answer
    /// when its id is known) and calls <paramref name="done"/> under the lock with every part of the reply, or with
    /// null once every attempt timed out. <paramref name="slow"/> runs when the first attempt times out.
    /// </summary>
    private void Request(string endpoint, DhtId? expected, DhtMessage request, Action<IReadOnlyList<DhtMessage>?> done, Action? slow = null)
    {
        var pending = new PendingRequest(endpoint, expected, request, done, slow);
        _pending[request.RequestId] = pending;
        Attempt(pending);
    }

    private void Attempt(PendingRequest pending)
    {
        pending.Attempts++;
        pending.SentAt = _time.GetTimestamp();
        pending.Timer?.Dispose();
        pending.Timer = _time.CreateTimer(
            static state =>
            {
                var (node, timed) = ((DhtNode, PendingRequest))state!;
                node.TimedOut(timed);
            },
            (this, pending),
            _roundTrips.Timeout(pending.Expected),
            Timeout.InfiniteTimeSpan);
        _transport.Send(pending.Endpoint, pending.Request);
    }

    private void TimedOut(PendingRequest pending)
    {
        Locked(() =>
        {
            if (!_pending.TryGetValue(pending.Request.RequestId, out var current) || current != pending)
            {
                return;
            }

            if (pending.Parts.Count > 0)
            {
                // Some parts of a split reply came and the rest did not: what came is the answer.
                Finish(pending, pending.Parts);
                return;
            }

            if (pending.Attempts == 1)
            {
                pending.Slow?.Invoke();
            }

            if (pending.Attempts <= Options.Retries)
            {
                Attempt(pending);
                return;
            }

            if (pending.Expected is { } id)
            {
                // Flagged stale, not removed: it leaves when a newcomer needs its place (RoutingTable.Seen).
                Table.Failed(id);
                _roundTrips.Forget(id);
            }

            Finish(pending, null);
        });
    }

    private void Replied(string from, DhtMessage reply)
    {
        if (!_pending.TryGetValue(reply.RequestId, out var pending))
        {
            return;
        }

        if ((pending.Expected is { } expected && expected != reply.Sender) || (pending.Expected is null && pending.Endpoint != from) || !Answers(pending.Request.Type, reply.Type))
        {
            Reject(new Peers.P2pRefusal(Peers.P2pRejection.Unexpected, $"a {DhtMessage.WireName(reply.Type)} reply from {reply.Sender.ToString()[..16]} to a request sent to another node or of another type"), from);
            return;
        }

        if (pending.Parts.Exists(p => p.Part == reply.Part) || reply.Parts != (pending.Parts.FirstOrDefault()?.Parts ?? reply.Parts))
        {
            return;
        }

        if (pending.Parts.Count == 0 && pending.Attempts == 1)
        {
            _roundTrips.Measured(reply.Sender, _time.GetElapsedTime(pending.SentAt));
        }

        pending.Parts.Add(reply);
        if (pending.Parts.Count >= reply.Parts)
        {
            Finish(pending, pending.Parts);
        }
    }

    private void Finish(PendingRequest pending, IReadOnlyList<DhtMessage>? replies)
    {
        _pending.Remove(pending.Request.RequestId);
        pending.Timer?.Dispose();
        pending.Done(replies);
    }

    private static bool Answers(DhtMessageType request, DhtMessageType reply) => (request, reply) switch
    {
        (DhtMessageType.Ping, DhtMessageType.Pong) => true,
        (DhtMessageType.Store, DhtMessageType.Stored) => true,
        (DhtMessageType.FindNode, DhtMessageType.Nodes) => true,
        (DhtMessageType.FindValue, DhtMessageType.Values) => true,
        _ => false,
    };

    /// <summary>A full bucket keeps its oldest entry while it answers a ping; only when it does not does the newcomer take its place.</summary>
    private void ProbeOldest(DhtContact newcomer)
    {
        var bucket = Self.CommonPrefixLength(newcomer.Id);
        if (_probing.ContainsKey(bucket) || Table.NextToPing(newcomer.Id) is not { } oldest)
        {
            return;
        }

        _probing[bucket] = newcomer;
        var ping = new DhtMessage { Type = DhtMessageType.Ping, RequestId = NewRequestId(), Sender = Self };
        Request(oldest.Contact.Endpoint, oldest.Contact.Id, ping, replies =>
        {
            _probing.Remove(bucket, out var waiting);
            if (replies is null && waiting is not null)
            {
                Table.Remove(oldest.Contact.Id);
                Table.Seen(waiting, _time.GetUtcNow());
            }
        });
    }

    /// <summary>Pings <paramref name="endpoint"/>, whose id may be unknown (a bootstrap entry); the contact that answered, or null.</summary>
    public Task<DhtContact?> PingAsync(string endpoint, DhtId? expected = null)
    {
        var completion = new TaskCompletionSource<DhtContact?>();
        Locked(() =>
        {
            var ping = new DhtMessage { Type = DhtMessageType.Ping, RequestId = NewRequestId(), Sender = Self };
            Request(endpoint, expected, ping, replies => _after.Add(() => completion.TrySetResult(replies is [var pong, ..] ? new DhtContact(pong.Sender, endpoint) : null)));
        });
        return completion.Task;
    }

    private sealed class PendingRequest(string endpoint, DhtId? expected, DhtMessage request, Action<IReadOnlyList<DhtMessage>?> done, Action? slow)
    {
        public string Endpoint { get; } = endpoint;
        public DhtId? Expected { get; } = expected;
        public DhtMessage Request { get; } = request;
        public Action<IReadOnlyList<DhtMessage>?> Done { get; } = done;
        public Action? Slow { get; } = slow;
        public List<DhtMessage> Parts { get; } = [];
        public int Attempts { get; set; }
        public long SentAt { get; set; }
        public ITimer? Timer { get; set; }
    }
}
