using Tenzro.Node.Core.Dht;

namespace Tenzro.Node.Tests.Dht;

/// <summary>
/// An in-memory network of DHT nodes on a <see cref="VirtualClock"/>: each message arrives after a latency drawn per
/// message, or is lost with <see cref="Loss"/>; a node that left receives nothing. Seeded, so runs repeat.
/// </summary>
internal sealed class SimulatedNetwork
{
    private readonly Dictionary<string, DhtNode> _alive = new(StringComparer.Ordinal);
    private readonly Random _random;
    private int _next;

    public SimulatedNetwork(int seed, TimeSpan minLatency, TimeSpan maxLatency, double loss = 0, DhtNodeOptions? options = null)
    {
        _random = new Random(seed);
        MinLatency = minLatency;
        MaxLatency = maxLatency;
        Loss = loss;
        Options = options ?? new DhtNodeOptions();
    }

    public VirtualClock Clock { get; } = new();

    public TimeSpan MinLatency { get; }

    public TimeSpan MaxLatency { get; }

    public double Loss { get; }

    public DhtNodeOptions Options { get; }

    public IReadOnlyCollection<DhtNode> Alive => _alive.Values;

    public long Messages { get; private set; }

    /// <summary>FIND_VALUE requests that asked a holder again, for records only.</summary>
    public long RecordsOnlyRequests { get; private set; }

    /// <summary>Adds a node (with <paramref name="id"/>, else a random one) at a new endpoint.</summary>
    public (DhtNode Node, string Endpoint) Add(DhtId? id = null)
    {
        var endpoint = $"sim-{_next++}:1";
        var node = new DhtNode(id ?? RandomId(), new Transport(this, endpoint), Clock, Options);
        _alive[endpoint] = node;
        return (node, endpoint);
    }

    public string EndpointOf(DhtNode node) => _alive.First(n => n.Value == node).Key;

    /// <summary>The node leaves without a word (its contacts find out by timeouts).</summary>
    public void Remove(DhtNode node) => _alive.Remove(EndpointOf(node));

    /// <summary>A node that was removed answers again at its old endpoint.</summary>
    public void Restore(DhtNode node, string endpoint) => _alive[endpoint] = node;

    public DhtId RandomId()
    {
        var bytes = new byte[32];
        _random.NextBytes(bytes);
        return DhtId.FromBytes(bytes);
    }

    public T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    public void Shuffle<T>(T[] items) => _random.Shuffle(items);

    /// <summary>The <paramref name="count"/> live node ids closest to <paramref name="target"/>: what a perfect lookup returns.</summary>
    public HashSet<DhtId> TrueClosest(DhtId target, int count) =>
        [.. _alive.Values.Select(n => n.Self).OrderBy(id => id, Comparer<DhtId>.Create(target.CompareDistance)).Take(count)];

    /// <summary>Runs the clock until <paramref name="task"/> ends (at most an hour of virtual time) and returns its result.</summary>
    public T Run<T>(Task<T> task)
    {
        if (!Clock.RunUntil(() => task.IsCompleted, TimeSpan.FromHours(1)))
        {
            throw new TimeoutException("The simulated operation did not end within an hour of virtual time.");
        }

        return task.GetAwaiter().GetResult();
    }

    /// <summary>Runs every task to its end on the virtual clock.</summary>
    public T[] RunAll<T>(IReadOnlyList<Task<T>> tasks) => Run(Task.WhenAll(tasks));

    private sealed class Transport(SimulatedNetwork network, string self) : IDhtTransport
    {
        public void Send(string endpoint, DhtMessage message)
        {
            TimeSpan latency;
            lock (network._random)
            {
                network.Messages++;
                network.RecordsOnlyRequests += message.RecordsOnly ? 1 : 0;
                if (network.Loss > 0 && network._random.NextDouble() < network.Loss)
                {
                    return;
                }

                latency = network.MinLatency + ((network.MaxLatency - network.MinLatency) * network._random.NextDouble());
            }

            network.Clock.Schedule(latency, () =>
            {
                if (network._alive.TryGetValue(endpoint, out var target) && network._alive.ContainsKey(self))
                {
                    target.Receive(self, message);
                }
            });
        }
    }
}
