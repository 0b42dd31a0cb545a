using System.Net;
using System.Net.Sockets;
using Makaretu.Dns;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Core.Lan;

/// <summary>A question of an mDNS query, its unicast-response bit cleared.</summary>
public sealed record LanQuestion(string Name, DnsType Type);

/// <summary>
/// One <c>_tenzro._tcp.local</c> instance as a packet describes it: its label, the SRV port and target, the TXT
/// strings and the addresses of the target. <see cref="Ttl"/> is the smallest TTL of its SRV and TXT records; zero is
/// a goodbye.
/// </summary>
public sealed record LanInstance(string Label, int Port, IReadOnlyList<string> Txt, IReadOnlyList<IPAddress> Addresses, TimeSpan Ttl)
{
    public bool IsGoodbye => Ttl == TimeSpan.Zero;
}

/// <summary>What a received mDNS packet holds that concerns this service.</summary>
public sealed record LanPacket(bool IsQuery, IReadOnlyList<LanQuestion> Questions, IReadOnlyList<LanInstance> Instances, IReadOnlyList<string> KnownLabels);

/// <summary>A packet that was refused before its content was looked at: <see cref="Reason"/> is a <see cref="P2pRejection"/> value.</summary>
public sealed class LanPacketException(string reason, string message) : Exception(message)
{
    public string Reason { get; } = reason;
}

/// <summary>
/// The mDNS messages of LAN discovery (RFC 6762, DNS-SD of RFC 6763), encoded and parsed with the Makaretu.Dns
/// codec: the announcement (PTR, SRV, TXT, A/AAAA), its goodbye (the same records with TTL 0), the query, and the
/// parse of whatever arrives on port 5353. Stateless and thread-safe.
/// </summary>
public static class LanWire
{
    public const string ServiceName = "_tenzro._tcp.local";
    public const string ServicesEnumeration = "_services._dns-sd._udp.local";

    /// <summary>The largest mDNS packet accepted or sent (RFC 6762 section 17).</summary>
    public const int MaxPacketBytes = 9000;

    /// <summary>The class of unique records with the cache-flush bit (RFC 6762 section 10.2).</summary>
    private const DnsClass CacheFlushIn = (DnsClass)0x8001;

    public static string InstanceName(string label) => label + "." + ServiceName;

    public static string HostName(string label) => label + ".local";

    /// <summary>
    /// The announcement of <paramref name="txt"/> on one interface, listing only <paramref name="addresses"/> (those of
    /// that interface). A TTL of zero makes it the goodbye.
    /// </summary>
    public static byte[] Announcement(LanTxt txt, IReadOnlyList<IPAddress> addresses, TimeSpan ttl)
    {
        ArgumentNullException.ThrowIfNull(txt);
        ArgumentNullException.ThrowIfNull(addresses);
        var instance = InstanceName(txt.Label);
        var host = HostName(txt.Label);
        var message = new Message { QR = true, AA = true };
        message.Answers.Add(new PTRRecord { Name = ServiceName, DomainName = instance, TTL = ttl });
        message.Answers.Add(new SRVRecord { Name = instance, Class = CacheFlushIn, Port = (ushort)txt.Port, Target = host, TTL = ttl });
        var text = new TXTRecord { Name = instance, Class = CacheFlushIn, TTL = ttl };
        text.Strings.AddRange(txt.Strings());
        message.Answers.Add(text);
        foreach (var address in addresses)
        {
            message.Answers.Add(address.AddressFamily == AddressFamily.InterNetwork
                ? new ARecord { Name = host, Class = CacheFlushIn, Address = address, TTL = ttl }
                : new AAAARecord { Name = host, Class = CacheFlushIn, Address = address, TTL = ttl });
        }

        return message.ToByteArray();
    }

    /// <summary>A query for the service's PTR records, with no known answers (so that every node answers).</summary>
    public static byte[] Query()
    {
        var message = new Message();
        message.Questions.Add(new Question { Name = ServiceName, Type = DnsType.PTR, Class = DnsClass.IN });
        return message.ToByteArray();
    }

    /// <summary>The PTR answer of the service enumeration query (<c>_services._dns-sd._udp.local</c>).</summary>
    public static byte[] ServiceEnumeration(TimeSpan ttl)
    {
        var message = new Message { QR = true, AA = true };
        message.Answers.Add(new PTRRecord { Name = ServicesEnumeration, DomainName = ServiceName, TTL = ttl });
        return message.ToByteArray();
    }

    /// <summary>Parses a received packet.</summary>
    /// <exception cref="LanPacketException">The packet is larger than <see cref="MaxPacketBytes"/> or is not a DNS message.</exception>
    public static LanPacket Parse(byte[] buffer, int length)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (length > MaxPacketBytes)
        {
            throw new LanPacketException(P2pRejection.Oversized, $"the packet is {length} bytes, more than {MaxPacketBytes}");
        }

        var message = new Message();
        try
        {
            message.Read(buffer, 0, length);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The codec throws what its reader meets (end of stream, a bad pointer, a bad length): all are malformed packets.
            throw new LanPacketException(P2pRejection.Malformed, "the packet is not a DNS message: " + e.Message);
        }

        var questions = message.Questions
            .Select(q => new LanQuestion(q.Name.ToString(), q.Type))
            .ToList();
        if (message.IsQuery)
        {
            var known = message.Answers.OfType<PTRRecord>()
                .Where(p => IsService(p.Name) && p.TTL > TimeSpan.Zero)
                .Select(p => InstanceLabel(p.DomainName))
                .OfType<string>()
                .ToList();
            return new LanPacket(true, questions, [], known);
        }

        var records = message.Answers.Concat(message.AdditionalRecords).ToList();
        var instances = new List<LanInstance>();
        foreach (var srv in records.OfType<SRVRecord>())
        {
            if (InstanceLabel(srv.Name) is not { } label || instances.Any(i => i.Label == label))
            {
                continue;
            }

            var txt = records.OfType<TXTRecord>().FirstOrDefault(t => t.Name == srv.Name);
            if (txt is null)
            {
                continue;
            }

            var addresses = records.OfType<AddressRecord>()
                .Where(a => a.Name == srv.Target)
                .Select(a => a.Address)
                .Distinct()
                .ToList();
            var ttl = srv.TTL < txt.TTL ? srv.TTL : txt.TTL;
            instances.Add(new LanInstance(label, srv.Port, txt.Strings, addresses, ttl));
        }

        return new LanPacket(false, questions, instances, []);
    }

    /// <summary>The label of <c>&lt;label&gt;._tenzro._tcp.local</c>; null for any other name.</summary>
    public static string? InstanceLabel(DomainName name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Labels.Count == 4 && IsService(name.Parent()) ? name.Labels[0] : null;
    }

    private static bool IsService(DomainName name) => name == new DomainName(ServiceName);
}
