using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Core.Lan;

/// <summary>
/// The signed TXT record of a node's mDNS announcement: <c>id</c>, <c>pk</c> (base64 public key), <c>tier</c>,
/// <c>v</c> (protocol version), <c>seq</c>, <c>exp</c> (ISO 8601) and <c>sig</c>. <c>sig</c> is the signature in the
/// <c>mdns-txt</c> domain over the JSON object of every other key (string values, as they travel) plus <c>port</c>,
/// the SRV port as a number, so that a copied TXT cannot be served with another port. Immutable.
/// </summary>
public sealed record LanTxt
{
    /// <summary>Every TXT string is shorter than this many bytes (RFC 6763 allows 255).</summary>
    public const int MaxStringBytes = 255;

    private static readonly string[] Keys = ["id", "pk", "tier", "v", "seq", "exp", "sig"];

    public required string Id { get; init; }
    public required byte[] PublicKey { get; init; }
    public required string Tier { get; init; }
    public required string Version { get; init; }
    public required long Seq { get; init; }
    public required DateTimeOffset ExpiresAt { get; init; }
    public required int Port { get; init; }
    public required string Signature { get; init; }

    /// <summary>The instance label of the node: <c>tenzro-&lt;16 hex&gt;</c>.</summary>
    public string Label => LabelOf(Id);

    public static string LabelOf(string nodeId) => "tenzro-" + NodeRecord.Short(nodeId);

    /// <summary>Builds and signs the TXT record of <paramref name="identity"/>.</summary>
    public static LanTxt Create(NodeIdentity identity, string tier, int port, long seq, DateTimeOffset expiresAt)
    {
        ArgumentNullException.ThrowIfNull(identity);
        var txt = new LanTxt
        {
            Id = identity.NodeId,
            PublicKey = identity.PublicKey,
            Tier = tier,
            Version = NodeRecord.ProtocolVersion,
            Seq = seq,
            ExpiresAt = expiresAt,
            Port = port,
            Signature = "",
        };
        var strings = txt.Strings().Select(s => s[(s.IndexOf('=', StringComparison.Ordinal) + 1)..]).ToArray();
        var signed = DomainSignature.Sign(SignedObject(strings[0], strings[1], strings[2], strings[3], strings[4], strings[5], port), SignatureDomain.MdnsTxt, identity);
        txt = txt with { Signature = signed["signature"]!.GetValue<string>() };
        if (txt.Strings().Any(s => Encoding.UTF8.GetByteCount(s) >= MaxStringBytes))
        {
            throw new ArgumentException($"a TXT string would be {MaxStringBytes} bytes or longer (tier \"{tier}\" is too long)", nameof(tier));
        }

        return txt;
    }

    /// <summary>The TXT strings as they travel, <c>key=value</c>.</summary>
    public IReadOnlyList<string> Strings() =>
    [
        "id=" + Id,
        "pk=" + Convert.ToBase64String(PublicKey),
        "tier=" + Tier,
        "v=" + Version,
        "seq=" + Seq.ToString(CultureInfo.InvariantCulture),
        "exp=" + Timestamps.Format(ExpiresAt),
        "sig=" + Signature,
    ];

    /// <summary>
    /// Checks a received TXT record served with SRV port <paramref name="port"/> under <paramref name="label"/>: its
    /// shape, the id being the SHA-256 of <c>pk</c>, the label naming that id, the signature, then the expiry.
    /// </summary>
    public static LanTxt? Read(IReadOnlyList<string> strings, int port, string label, DateTimeOffset now, out P2pRefusal? refusal)
    {
        ArgumentNullException.ThrowIfNull(strings);
        refusal = null;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var text in strings)
        {
            var eq = text.IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? text : text[..eq];
            if (Keys.Contains(key) && !values.TryAdd(key, eq < 0 ? "" : text[(eq + 1)..]))
            {
                refusal = new P2pRefusal(P2pRejection.Malformed, $"the TXT record has key {key} twice");
                return null;
            }
        }

        if (Keys.FirstOrDefault(k => !values.ContainsKey(k)) is { } missing)
        {
            refusal = new P2pRefusal(missing == "sig" ? P2pRejection.BadSignature : P2pRejection.Malformed, $"the TXT record has no {missing}");
            return null;
        }

        var txt = Parse(values, port);
        if (txt is null)
        {
            refusal = new P2pRefusal(P2pRejection.Malformed, "the TXT record's pk, seq or exp cannot be read");
            return null;
        }

        if (txt.PublicKey.Length != 32 || DomainSignature.NodeIdOf(txt.PublicKey) != txt.Id)
        {
            refusal = new P2pRefusal(P2pRejection.IdMismatch, $"the TXT record's id {NodeRecord.Short(txt.Id)} is not the SHA-256 of its key");
            return null;
        }

        if (!string.Equals(label, txt.Label, StringComparison.OrdinalIgnoreCase))
        {
            refusal = new P2pRefusal(P2pRejection.IdMismatch, $"the instance {label} does not name the id {NodeRecord.Short(txt.Id)} of its TXT record");
            return null;
        }

        var signed = SignedObject(values["id"], values["pk"], values["tier"], values["v"], values["seq"], values["exp"], port);
        signed["signature"] = txt.Signature;
        if (!DomainSignature.Verify(signed, SignatureDomain.MdnsTxt, txt.PublicKey))
        {
            refusal = new P2pRefusal(P2pRejection.BadSignature, $"the TXT record of {txt.Label} is not signed by its key in the mdns-txt domain (with port {port})");
            return null;
        }

        if (now >= txt.ExpiresAt)
        {
            refusal = new P2pRefusal(P2pRejection.Expired, $"the TXT record of {txt.Label} expired at {Timestamps.Format(txt.ExpiresAt)}");
            return null;
        }

        return txt;
    }

    /// <summary>What <c>sig</c> signs: every key but <c>sig</c>, as the strings that travel, and <c>port</c> as a number.</summary>
    private static JsonObject SignedObject(string id, string pk, string tier, string v, string seq, string exp, int port) => new()
    {
        ["id"] = id,
        ["pk"] = pk,
        ["tier"] = tier,
        ["v"] = v,
        ["seq"] = seq,
        ["exp"] = exp,
        ["port"] = port,
    };

    private static LanTxt? Parse(Dictionary<string, string> values, int port)
    {
        if (!long.TryParse(values["seq"], NumberStyles.None, CultureInfo.InvariantCulture, out var seq)
            || Timestamps.Parse(values["exp"]) is not { } exp
            || values["id"].Length != 64)
        {
            return null;
        }

        var key = new byte[33];
        if (!Convert.TryFromBase64String(values["pk"], key, out var length))
        {
            return null;
        }

        return new LanTxt
        {
            Id = values["id"],
            PublicKey = key[..length],
            Tier = values["tier"],
            Version = values["v"],
            Seq = seq,
            ExpiresAt = exp,
            Port = port,
            Signature = values["sig"],
        };
    }
}
