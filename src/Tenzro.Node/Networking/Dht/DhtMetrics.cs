using System.Diagnostics.Metrics;
using Tenzro.Node.Core.Dht;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Networking.Dht;

/// <summary>
/// DHT instruments on the node's meter: lookups and their failures, hops and duration, datagrams dropped by reason,
/// and the gauges of the routing table size and the records held.
/// </summary>
/// <remarks>Thread-safe.</remarks>
internal sealed class DhtMetrics
{
    private static readonly double[] SecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private readonly Meter _meter;
    private readonly Counter<long> _lookups;
    private readonly Counter<long> _failures;
    private readonly Histogram<int> _hops;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _dropped;

    public DhtMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(TaskMetrics.MeterName);
        _lookups = _meter.CreateCounter<long>("tenzro.dht.lookups", "{lookup}", "DHT lookups run by this node.");
        _failures = _meter.CreateCounter<long>("tenzro.dht.lookup.failures", "{lookup}", "DHT lookups that no node answered.");
        _hops = _meter.CreateHistogram("tenzro.dht.lookup.hops", "{hop}", "Rounds of requests a DHT lookup sent (its hops).", tags: null, advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [0, 1, 2, 3, 4, 5, 6, 8, 10, 15] });
        _duration = _meter.CreateHistogram("tenzro.dht.lookup.duration", "s", "Time from the start of a DHT lookup to its end.", tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _dropped = _meter.CreateCounter<long>("tenzro.dht.dropped", "{datagram}", "DHT datagrams and records dropped, by reason.");
    }

    /// <summary>Registers the gauges of <paramref name="status"/>.</summary>
    public void Observe(IDhtStatus status)
    {
        _meter.CreateObservableGauge("tenzro.dht.routing_table.size", () => status.RoutingTableSize, "{node}", "Contacts in the DHT routing table.");
        _meter.CreateObservableGauge("tenzro.dht.routing_table.stale", () => status.StaleContacts, "{node}", "Contacts in the DHT routing table whose last request failed (kept until a newcomer takes their place).");
        _meter.CreateObservableGauge("tenzro.dht.records", () => status.Records, "{record}", "Node records this node holds in the DHT.");
    }

    public void Lookup(DhtLookupResult result)
    {
        _lookups.Add(1);
        if (!result.Succeeded)
        {
            _failures.Add(1);
        }

        _hops.Record(result.Hops);
        _duration.Record(result.Duration.TotalSeconds);
    }

    public void Dropped(string reason) => _dropped.Add(1, new KeyValuePair<string, object?>("reason", reason));
}
