using System.Diagnostics.Metrics;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Networking.Lan;

/// <summary>
/// LAN discovery instruments on the node's meter, per interface: <c>tenzro_lan_packets_total{interface,kind,direction}</c>
/// (kind <c>announcement</c>, <c>query</c>, <c>answer</c>, <c>goodbye</c>) and <c>tenzro_lan_dropped_total{interface,reason}</c>;
/// the gauge <c>tenzro_lan_peers</c> is registered by the service.
/// </summary>
/// <remarks>Thread-safe. Labels are bounded: the machine's interface names and the fixed reasons of <c>P2pRejection</c>.</remarks>
internal sealed class LanMetrics
{
    private readonly Counter<long> _packets;
    private readonly Counter<long> _dropped;

    public LanMetrics(IMeterFactory meters)
    {
        Meter = meters.Create(TaskMetrics.MeterName);
        _packets = Meter.CreateCounter<long>("tenzro.lan.packets", "{packet}", "mDNS packets of LAN discovery by interface, kind (announcement, query, answer, goodbye) and direction (in, out).");
        _dropped = Meter.CreateCounter<long>("tenzro.lan.dropped", "{packet}", "mDNS packets or announcements dropped by interface and reason (malformed, oversized, bad_signature, id_mismatch, expired, stale, limit, flood).");
    }

    public Meter Meter { get; }

    public void Packet(string interfaceName, string kind, string direction) =>
        _packets.Add(1, new KeyValuePair<string, object?>("interface", interfaceName), new KeyValuePair<string, object?>("kind", kind), new KeyValuePair<string, object?>("direction", direction));

    public void Dropped(string interfaceName, string reason) =>
        _dropped.Add(1, new KeyValuePair<string, object?>("interface", interfaceName), new KeyValuePair<string, object?>("reason", reason));
}
