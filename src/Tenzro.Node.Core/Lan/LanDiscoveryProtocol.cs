using System.Net;
using Makaretu.Dns;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Core.Lan;

/// <summary>
/// The protocol side of LAN discovery, without sockets: this node's signed TXT record, what a received packet means
/// (peers found, refreshed or gone; queries to answer; refusals to count), and the timers: records live
/// <see cref="RecordTtl"/>, the node announces every <see cref="AnnounceInterval"/>, a peer not heard from is queried
/// again at 80 % and 90 % of its TTL and dropped at 100 %.
/// </summary>
/// <remarks>
/// Thread-safe: the socket layer calls <see cref="Receive"/> from its receive loops and <see cref="Sweep"/> from its
/// timer. Time comes from the injected <see cref="TimeProvider"/>.
/// </remarks>
public sealed class LanDiscoveryProtocol(NodeIdentity identity, TimeProvider time)
{
    /// <summary>The TTL of every record this node announces, and the longest a peer's records are kept without a refresh.</summary>
    public static readonly TimeSpan RecordTtl = TimeSpan.FromSeconds(6);

    /// <summary>How often this node announces itself unasked on each interface.</summary>
    public static readonly TimeSpan AnnounceInterval = TimeSpan.FromSeconds(2);

    /// <summary>How long a signed TXT record is valid; it is re-signed with a higher <c>seq</c> after half of it.</summary>
    public static readonly TimeSpan TxtLifetime = TimeSpan.FromMinutes(10);

    /// <summary>Answers to queries on one interface are at least this far apart (RFC 6762 section 6 asks for one second; a shorter gap keeps discovery fast).</summary>
    public static readonly TimeSpan AnswerGap = TimeSpan.FromMilliseconds(250);

    /// <summary>Peers kept at most: every key makes a valid announcement, so without a cap a flood of fresh identities would grow the table (and the dials) without end.</summary>
    public const int MaxPeers = 256;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _peers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _answered = new(StringComparer.Ordinal);
    private LanTxt? _txt;

    public string SelfLabel { get; } = LanTxt.LabelOf(identity.NodeId);

    public string SelfId => identity.NodeId;

    /// <summary>The peers seen and not yet gone, ordered by id.</summary>
    public IReadOnlyList<LanPeer> Peers
    {
        get
        {
            lock (_lock)
            {
                return [.. _peers.Values.Select(e => e.Peer).OrderBy(p => p.Id, StringComparer.Ordinal)];
            }
        }
    }

    /// <summary>
    /// This node's TXT record for <paramref name="tier"/> and the peer-link <paramref name="port"/>: the current one
    /// while neither changed and less than half of its lifetime passed, else a new one with a higher <c>seq</c>
    /// (at least the Unix time in seconds, so a restarted node's records beat its older ones).
    /// </summary>
    public LanTxt Txt(string tier, int port, out bool changed)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            changed = _txt is null || _txt.Tier != tier || _txt.Port != port || now >= _txt.ExpiresAt - (TxtLifetime / 2);
            if (changed)
            {
                var seq = Math.Max((_txt?.Seq ?? 0) + 1, now.ToUnixTimeSeconds());
                _txt = LanTxt.Create(identity, tier, port, seq, now + TxtLifetime);
            }

            return _txt!;
        }
    }

    /// <summary>Handles a packet received on <paramref name="interfaceName"/> from <paramref name="source"/>.</summary>
    public LanReceived Receive(byte[] buffer, int length, IPAddress source, string interfaceName)
    {
        LanPacket packet;
        try
        {
            packet = LanWire.Parse(buffer, length);
        }
        catch (LanPacketException e)
        {
            return new LanReceived { Refusals = [new P2pRefusal(e.Reason, e.Message)] };
        }

        return packet.IsQuery ? Query(packet) : Response(packet, source, interfaceName);
    }

    /// <summary>
    /// Drops peers whose records expired; returns them, and whether a re-query is due (a peer reached 80 % or 90 % of
    /// its TTL without a refresh).
    /// </summary>
    public (IReadOnlyList<LanPeerChange> Gone, bool Requery) Sweep()
    {
        var now = time.GetUtcNow();
        var gone = new List<LanPeerChange>();
        var requery = false;
        lock (_lock)
        {
            foreach (var entry in _peers.Values.ToList())
            {
                if (now >= entry.Peer.ExpiresAt)
                {
                    _peers.Remove(entry.Peer.Id);
                    gone.Add(new LanPeerChange(LanChangeKind.Gone, entry.Peer, $"not heard from for {(now - entry.Peer.LastSeen).TotalSeconds:F1} s (records live {RecordTtl.TotalSeconds:F0} s)"));
                }
                else if (entry.QueriesSent < 2)
                {
                    var ttl = entry.Peer.ExpiresAt - entry.Peer.LastSeen;
                    var mark = entry.Peer.LastSeen + (ttl * (entry.QueriesSent == 0 ? 0.8 : 0.9));
                    if (now >= mark)
                    {
                        entry.QueriesSent++;
                        requery = true;
                    }
                }
            }
        }

        return (gone, requery);
    }

    /// <summary>True when an answer may go out on <paramref name="interfaceName"/> now (at most one per <see cref="AnswerGap"/>); takes the slot.</summary>
    public bool TakeAnswerSlot(string interfaceName)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (_answered.TryGetValue(interfaceName, out var last) && now - last < AnswerGap)
            {
                return false;
            }

            _answered[interfaceName] = now;
            return true;
        }
    }

    /// <summary>Records that an announcement went out on <paramref name="interfaceName"/>, so that an answer right after it is not sent twice.</summary>
    public void Announced(string interfaceName)
    {
        lock (_lock)
        {
            _answered[interfaceName] = time.GetUtcNow();
        }
    }

    private LanReceived Query(LanPacket packet)
    {
        var self = LanWire.InstanceName(SelfLabel);
        var host = LanWire.HostName(SelfLabel);
        var asked = packet.Questions.Any(q =>
            (Is(q.Name, LanWire.ServiceName) && q.Type is DnsType.PTR or DnsType.ANY)
            || (Is(q.Name, self) && q.Type is DnsType.SRV or DnsType.TXT or DnsType.ANY)
            || (Is(q.Name, host) && q.Type is DnsType.A or DnsType.AAAA or DnsType.ANY));

        // Known-answer suppression (RFC 6762 section 7.1): the asker already holds this node's PTR.
        var known = packet.KnownLabels.Contains(SelfLabel, StringComparer.OrdinalIgnoreCase);
        var enumeration = packet.Questions.Any(q => Is(q.Name, LanWire.ServicesEnumeration) && q.Type is DnsType.PTR or DnsType.ANY);
        return new LanReceived { IsQuery = true, Answer = asked && !known, AnswerEnumeration = enumeration };
    }

    private LanReceived Response(LanPacket packet, IPAddress source, string interfaceName)
    {
        var now = time.GetUtcNow();
        var refusals = new List<P2pRefusal>();
        var changes = new List<LanPeerChange>();
        var own = false;
        foreach (var instance in packet.Instances)
        {
            if (string.Equals(instance.Label, SelfLabel, StringComparison.OrdinalIgnoreCase))
            {
                own = true;
                continue;
            }

            var txt = LanTxt.Read(instance.Txt, instance.Port, instance.Label, now, out var refusal);
            if (txt is null)
            {
                refusals.Add(refusal!);
                continue;
            }

            lock (_lock)
            {
                var known = _peers.GetValueOrDefault(txt.Id);
                if (known is not null && txt.Seq < known.Peer.Txt.Seq)
                {
                    refusals.Add(new P2pRefusal(P2pRejection.Stale, $"{txt.Label} announced seq {txt.Seq}, older than seq {known.Peer.Txt.Seq} seen before (a replay)"));
                    continue;
                }

                if (instance.IsGoodbye)
                {
                    if (known is not null)
                    {
                        _peers.Remove(txt.Id);
                        changes.Add(new LanPeerChange(LanChangeKind.Gone, known.Peer, "it said goodbye"));
                    }

                    continue;
                }

                if (known is null && _peers.Count >= MaxPeers)
                {
                    refusals.Add(new P2pRefusal(P2pRejection.Limit, $"{txt.Label} is not kept: {MaxPeers} LAN peers are known already"));
                    continue;
                }

                var ttl = instance.Ttl < RecordTtl ? instance.Ttl : RecordTtl;
                var peer = new LanPeer(txt, instance.Addresses, source, interfaceName, now, now + ttl);
                _peers[txt.Id] = new Entry(peer);
                if (known is null)
                {
                    changes.Add(new LanPeerChange(LanChangeKind.Found, peer));
                }
                else if (known.Peer.Txt.Seq != txt.Seq || known.Peer.Txt.Port != txt.Port || !known.Peer.Addresses.SequenceEqual(peer.Addresses))
                {
                    changes.Add(new LanPeerChange(LanChangeKind.Updated, peer));
                }
            }
        }

        return new LanReceived { Own = own, Instances = packet.Instances.Count, Refusals = refusals, Changes = changes };
    }

    private static bool Is(string name, string expected) =>
        string.Equals(name.TrimEnd('.'), expected, StringComparison.OrdinalIgnoreCase);

    private sealed class Entry(LanPeer peer)
    {
        public LanPeer Peer { get; } = peer;

        /// <summary>Re-queries sent for this sighting (at 80 % and 90 % of its TTL).</summary>
        public int QueriesSent { get; set; }
    }
}
