using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Core.Dht;

/// <summary>
/// One Kademlia node, without sockets: it answers PING, STORE, FIND_NODE and FIND_VALUE, keeps the routing table
/// and the records it holds, and runs iterative lookups, publishing and bucket refreshes. Messages leave through
/// an <see cref="IDhtTransport"/> and arrive through <see cref="Receive"/>; every timeout runs on the injected
/// <see cref="TimeProvider"/>, so a simulation drives thousands of nodes on a virtual clock.
/// </summary>
/// <remarks>
/// Thread-safe: every entry point (received messages, timer callbacks, the public methods) runs under one lock;
/// tasks are completed after it is released, so awaiting code never runs under it.
/// </remarks>
public sealed partial class DhtNode
{
    private readonly Lock _lock = new();
    private readonly IDhtTransport _transport;
    private readonly TimeProvider _time;
    private volatile IReadOnlyList<string> _joinedThrough = [];
    private long _rejoinedAtTicks;
    private readonly List<Action> _after = [];
    private readonly Dictionary<string, (double Tokens, DateTimeOffset At)> _storeBudget = new(StringComparer.Ordinal);

    public DhtNode(DhtId self, IDhtTransport transport, TimeProvider time, DhtNodeOptions? options = null)
    {
        Self = self;
        _transport = transport;
        _time = time;
        Options = options ?? new DhtNodeOptions();
        Table = new RoutingTable(self, Options.K);
        Records = new DhtRecordStore(Options.Store);
        _roundTrips = new RoundTripTimes(Options.MinRequestTimeout, Options.RequestTimeout);
    }

    public DhtId Self { get; }

    public DhtNodeOptions Options { get; }

    /// <summary>Read only under <see cref="Read{T}"/>.</summary>
    private RoutingTable Table { get; }

    private DhtRecordStore Records { get; }

    /// <summary>Something a peer sent was refused: the reason (a <see cref="P2pRejection"/>), a sentence, and where it came from.</summary>
    public event Action<P2pRefusal, string>? Rejected;

    /// <summary>A lookup ended (for metrics).</summary>
    public event Action<DhtLookupResult>? LookupCompleted;

    /// <summary>A valid record of another node was received in a FIND_VALUE reply.</summary>
    public event Action<NodeRecord>? RecordFound;

    public int RoutingTableSize => Read(() => Table.Count);

    /// <summary>Contacts that failed their last request and were not heard from since (<see cref="RoutingTable.Failed"/>).</summary>
    public int StaleContacts => Read(() => Table.StaleCount);

    /// <summary>Contacts that answered their last request (or were not asked since they were heard from).</summary>
    public int LiveContacts => Read(() => Table.Count - Table.StaleCount);

    public int BucketsInUse => Read(() => Table.BucketsInUse);

    public int RecordsHeld => Read(() => Records.Count);

    public long RecordBytesHeld => Read(() => Records.Bytes);

    public DateTimeOffset? LastRefreshAt { get; private set; }

    /// <summary>Every contact in the table, oldest first per bucket (what is saved for a restart).</summary>
    public IReadOnlyList<DhtTableEntry> Entries() => Read(() => Table.Entries().ToList());

    /// <summary>The contacts of the table closest to <paramref name="target"/>.</summary>
    public IReadOnlyList<DhtContact> Closest(DhtId target, int count) => Read(() => Table.Closest(target, count));

    /// <summary>Whether this node holds a live record of node <paramref name="id"/> under <paramref name="key"/> (for tests and diagnostics).</summary>
    internal bool Holds(DhtId key, string id) => Read(() => Records.Get(key, _time.GetUtcNow(), int.MaxValue).Exists(r => r.Id == id));

    /// <summary>Adds a contact known from before (a saved table); it stays only while it answers.</summary>
    public void AddContact(DhtContact contact) => Locked(() => Seen(contact));

    /// <summary>Handles one verified message from <paramref name="from"/> (its <c>host:port</c>).</summary>
    public void Receive(string from, DhtMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        Locked(() =>
        {
            if (message.Sender == Self)
            {
                return;
            }

            Seen(new DhtContact(message.Sender, from));
            if (message.IsRequest)
            {
                Answer(from, message);
            }
            else
            {
                Replied(from, message);
            }
        });
    }

    private void Answer(string from, DhtMessage request)
    {
        var now = _time.GetUtcNow();
        var reply = request.Type switch
        {
            DhtMessageType.Ping => Reply(request, DhtMessageType.Pong),
            DhtMessageType.FindNode when request.Target is { } target => Reply(request, DhtMessageType.Nodes) with { Target = target, Contacts = Table.Closest(target, Options.K) },
            DhtMessageType.FindValue when request.Target is { } target => Values(request, target, now),
            DhtMessageType.Store when request.Target is { } key => Reply(request, DhtMessageType.Stored) with { Target = key, Accepted = Store(from, request.Sender, key, request.Records, now) },
            _ => null,
        };
        if (reply is null)
        {
            Reject(new P2pRefusal(P2pRejection.Malformed, $"a {DhtMessage.WireName(request.Type)} request without a target"), from);
            return;
        }

        _transport.Send(from, reply);
    }

    /// <summary>
    /// The VALUES reply: the records under the key that the asker does not hold (at most <see cref="DhtNodeOptions.MaxValuesPerReply"/>,
    /// at random when there are more), complete when none is left out, and the closest contacts unless asked for records only.
    /// </summary>
    private DhtMessage Values(DhtMessage request, DhtId target, DateTimeOffset now)
    {
        var missing = Records.Get(target, now, Options.Store.PerKey).Where(r => !request.Has(r)).ToList();
        return Reply(request, DhtMessageType.Values) with
        {
            Target = target,
            Contacts = request.RecordsOnly ? [] : Table.Closest(target, Options.K),
            Records = [.. missing.Take(Options.MaxValuesPerReply).Select(r => r.Json)],
            Complete = missing.Count <= Options.MaxValuesPerReply,
        };
    }

    private DhtMessage Reply(DhtMessage request, DhtMessageType type) => new() { Type = type, RequestId = request.RequestId, Sender = Self };

    private int Store(string from, DhtId sender, DhtId key, IReadOnlyList<JsonObject> records, DateTimeOffset now)
    {
        if (!TakeStoreToken(sender.ToString(), now))
        {
            Reject(new P2pRefusal(P2pRejection.Flood, $"{Options.Store.StoresPerMinute} STORE requests a minute from one sender at most"), from);
            return 0;
        }

        var accepted = 0;
        foreach (var json in records)
        {
            if (Records.Put(key, json, now, out _) is { } refusal)
            {
                if (refusal.Reason != P2pRejection.Limit)
                {
                    Reject(refusal, from);
                }

                continue;
            }

            accepted++;
        }

        return accepted;
    }

    private bool TakeStoreToken(string sender, DateTimeOffset now)
    {
        var rate = Options.Store.StoresPerMinute / 60.0;
        var (tokens, at) = _storeBudget.TryGetValue(sender, out var budget) ? budget : (Options.Store.StoresPerMinute, now);
        tokens = Math.Min(Options.Store.StoresPerMinute, tokens + ((now - at).TotalSeconds * rate));
        if (_storeBudget.Count > 10_000)
        {
            _storeBudget.Clear();
        }

        _storeBudget[sender] = (Math.Max(0, tokens - 1), now);
        return tokens >= 1;
    }

    private void Seen(DhtContact contact)
    {
        var now = _time.GetUtcNow();
        switch (Table.Seen(contact, now))
        {
            case TableChange.BucketFull:
                ProbeOldest(contact);
                break;
            case TableChange.Added:
                HandOver(contact);
                break;
        }
    }

    private void Reject(P2pRefusal refusal, string from)
    {
        var handler = Rejected;
        if (handler is not null)
        {
            _after.Add(() => handler(refusal, from));
        }
    }

    private T Read<T>(Func<T> read)
    {
        lock (_lock)
        {
            return read();
        }
    }

    /// <summary>Runs <paramref name="action"/> under the lock, then what it left to run outside it (task completions, events).</summary>
    private void Locked(Action action)
    {
        Action[] after;
        lock (_lock)
        {
            action();
            if (_after.Count == 0)
            {
                return;
            }

            after = [.. _after];
            _after.Clear();
        }

        foreach (var run in after)
        {
            run();
        }
    }

    private static string NewRequestId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
}
