using System.Net;
using Makaretu.Dns;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Lan;

namespace Tenzro.Node.Tests.Lan;

/// <summary>Packets as other nodes, other responders and attackers send them.</summary>
internal static class LanKit
{
    public static readonly IPAddress PeerAddress = IPAddress.Parse("10.77.0.2");

    public static byte[] Announcement(NodeIdentity identity, DateTimeOffset now, int port = 8081, long seq = 100, TimeSpan? ttl = null, string tier = "inference") =>
        LanWire.Announcement(LanTxt.Create(identity, tier, port, seq, now + TimeSpan.FromMinutes(10)), [PeerAddress], ttl ?? LanDiscoveryProtocol.RecordTtl);

    /// <summary>An announcement whose TXT strings were changed after signing (or replaced whole).</summary>
    public static byte[] WithTxt(NodeIdentity identity, DateTimeOffset now, Func<List<string>, List<string>> change, int port = 8081)
    {
        var txt = LanTxt.Create(identity, "inference", port, 100, now + TimeSpan.FromMinutes(10));
        var label = txt.Label;
        var instance = LanWire.InstanceName(label);
        var message = new Message { QR = true, AA = true };
        message.Answers.Add(new PTRRecord { Name = LanWire.ServiceName, DomainName = instance, TTL = TimeSpan.FromSeconds(6) });
        message.Answers.Add(new SRVRecord { Name = instance, Port = (ushort)port, Target = LanWire.HostName(label), TTL = TimeSpan.FromSeconds(6) });
        var record = new TXTRecord { Name = instance, TTL = TimeSpan.FromSeconds(6) };
        record.Strings.AddRange(change([.. txt.Strings()]));
        message.Answers.Add(record);
        message.Answers.Add(new ARecord { Name = LanWire.HostName(label), Address = PeerAddress, TTL = TimeSpan.FromSeconds(6) });
        return message.ToByteArray();
    }

    /// <summary>A message as a generic DNS-SD browser sends it: a PTR question.</summary>
    public static byte[] Question(string name, DnsType type)
    {
        var message = new Message();
        message.Questions.Add(new Question { Name = name, Type = type, Class = DnsClass.IN });
        return message.ToByteArray();
    }
}
