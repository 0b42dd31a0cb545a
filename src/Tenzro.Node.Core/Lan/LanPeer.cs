using System.Net;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Core.Lan;

/// <summary>A peer seen on the LAN: its verified TXT record, the addresses it announced and where it was heard. Immutable.</summary>
public sealed record LanPeer(LanTxt Txt, IReadOnlyList<IPAddress> Addresses, IPAddress Source, string Interface, DateTimeOffset LastSeen, DateTimeOffset ExpiresAt)
{
    public string Id => Txt.Id;

    /// <summary>
    /// The address to dial: the packet's source when the peer announced it (it is reachable from here for certain),
    /// else an announced IPv4 address, else any announced one, else the source. A link-local IPv6 address carries
    /// the scope of the interface it was heard on.
    /// </summary>
    public PeerAddress DialAddress(int scopeId)
    {
        var address = Addresses.FirstOrDefault(a => a.Equals(Source))
            ?? Addresses.FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
            ?? Addresses.FirstOrDefault(a => !a.IsIPv6LinkLocal)
            ?? Source;
        if (address.IsIPv6LinkLocal && scopeId > 0)
        {
            address = new IPAddress(address.GetAddressBytes(), scopeId);
        }

        return new PeerAddress(Id, address.ToString(), Txt.Port);
    }
}

public enum LanChangeKind
{
    /// <summary>A peer not known before.</summary>
    Found,

    /// <summary>A known peer announced a new port, addresses or <c>seq</c>.</summary>
    Updated,

    /// <summary>A peer said goodbye or its records expired.</summary>
    Gone,
}

/// <summary>A change of the set of LAN peers; <see cref="Why"/> says what made a peer go.</summary>
public sealed record LanPeerChange(LanChangeKind Kind, LanPeer Peer, string? Why = null);

/// <summary>What one received packet meant.</summary>
public sealed record LanReceived
{
    /// <summary>The packet was a query (<c>QR</c> clear).</summary>
    public bool IsQuery { get; init; }

    /// <summary>The packet announced this node itself (its own multicast looped back, or another copy of it).</summary>
    public bool Own { get; init; }

    /// <summary>A query asked for this node's records: answer with the announcement on that interface.</summary>
    public bool Answer { get; init; }

    /// <summary>A query asked which services exist (<c>_services._dns-sd._udp.local</c>).</summary>
    public bool AnswerEnumeration { get; init; }

    /// <summary>How many <c>_tenzro._tcp</c> instances the packet described.</summary>
    public int Instances { get; init; }

    /// <summary>Why the packet, or instances in it, were refused (malformed, oversized, bad signature, wrong id, expired, stale).</summary>
    public IReadOnlyList<P2pRefusal> Refusals { get; init; } = [];

    public IReadOnlyList<LanPeerChange> Changes { get; init; } = [];
}
