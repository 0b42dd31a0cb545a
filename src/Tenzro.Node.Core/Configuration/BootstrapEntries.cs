using System.Globalization;
using System.Text.RegularExpressions;

namespace Tenzro.Node.Core.Configuration;

/// <summary>
/// BOOTSTRAP_NODES split by kind (CONTRACTS "Ports, addresses"): <c>ws(s)://</c> regional nodes,
/// <c>tenzro://&lt;node id&gt;@host:port</c> peers and <c>udp://host:port</c> DHT contacts. A peer or DHT
/// entry is never taken for the regional node.
/// </summary>
public sealed partial record BootstrapEntries(IReadOnlyList<Uri> Regional, IReadOnlyList<PeerAddress> Peers, IReadOnlyList<DnsEndPointText> DhtContacts)
{
    private const string Expected = "a comma-separated list of ws:// or wss:// regional node URLs, tenzro://<64 hex node id>@host:port peers and udp://host:port DHT contacts";

    /// <summary>Reads BOOTSTRAP_NODES; each bad entry is reported on its own.</summary>
    public static BootstrapEntries Read(SettingsReader r)
    {
        var regional = new List<Uri>();
        var peers = new List<PeerAddress>();
        var contacts = new List<DnsEndPointText>();
        foreach (var part in r.Raw("BOOTSTRAP_NODES").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (TryParsePeer(part, out var peer))
            {
                peers.Add(peer);
            }
            else if (Uri.TryCreate(part, UriKind.Absolute, out var uri) && uri.Scheme is "ws" or "wss")
            {
                regional.Add(uri);
            }
            else if (uri is { Scheme: "udp", Port: > 0 } && uri.AbsolutePath is "/" or "" && uri.UserInfo.Length == 0)
            {
                contacts.Add(new DnsEndPointText(uri.Host.Trim('[', ']'), uri.Port));
            }
            else
            {
                r.Fail("BOOTSTRAP_NODES", part, Expected);
            }
        }

        return new BootstrapEntries(regional, peers, contacts);
    }

    /// <summary>Parses <c>tenzro://&lt;64 lowercase hex&gt;@host:port</c> (IPv6 hosts in brackets).</summary>
    public static bool TryParsePeer(string text, out PeerAddress peer)
    {
        peer = null!;
        var match = PeerPattern().Match(text);
        if (!match.Success
            || !int.TryParse(match.Groups["port"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return false;
        }

        var host = match.Groups["host"].Value;
        if (host.StartsWith('['))
        {
            host = host[1..^1];
            if (!System.Net.IPAddress.TryParse(host, out var v6) || v6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                return false;
            }
        }
        else if (!System.Net.IPAddress.TryParse(host, out _) && Uri.CheckHostName(host) != UriHostNameType.Dns)
        {
            return false;
        }

        peer = new PeerAddress(match.Groups["id"].Value.ToLowerInvariant(), host, port);
        return true;
    }

    [GeneratedRegex(@"^tenzro://(?<id>[0-9a-fA-F]{64})@(?<host>\[[0-9a-fA-F:.]+\]|[^\s:/@\[\]]+):(?<port>[0-9]{1,5})/?$")]
    private static partial Regex PeerPattern();
}
