using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Core.Dht;

/// <summary>
/// DHT messages on the wire: canonical JSON, signed in the <c>dht-rpc</c> domain with <c>timestamp</c> and
/// <c>nonce</c>, at most <see cref="MaxDatagram"/> bytes per datagram. A message whose contacts and records do not
/// fit one datagram is split into up to <see cref="MaxParts"/> parts with one request id, each signed on its own;
/// what does not fit four is left out (a lookup asks other nodes too).
/// <code>{"t":"nodes","rid":"…","key":"&lt;base64&gt;","target":"…","contacts":[["&lt;id&gt;","host:port"]],"records":[…],"part":0,"parts":2,"timestamp":…,"nonce":…,"signature":…}</code>
/// A FIND_VALUE request may list the records its asker holds (<c>"have":[["&lt;16 hex&gt;",seq]]</c>) and ask for records
/// only (<c>"recordsOnly":true</c>); a VALUES reply that carries every record its holder keeps under the key, less those,
/// says <c>"complete":true</c>.
/// </summary>
/// <remarks>Thread-safe (stateless; the replay guard passed in is thread-safe).</remarks>
public static class DhtWire
{
    public const int MaxDatagram = 1200;
    public const int MaxParts = 4;
    /// <summary>Records a FIND_VALUE request lists as held at most: with the header, they always fit one datagram.</summary>
    public const int MaxHave = 16;
    private const int MaxContacts = 40;
    private const int MaxRecords = 8;
    private const int MaxEndpointLength = 64;

    /// <summary>
    /// The signed datagrams of <paramref name="message"/> (one unless it had to be split into at most
    /// <see cref="MaxParts"/>). Records come first, then contacts: the records are what a FIND_VALUE asks for, and a
    /// reply that cannot carry everything drops contacts before records.
    /// </summary>
    public static IReadOnlyList<byte[]> Encode(DhtMessage message, NodeIdentity identity, ReplayGuard guard)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(guard);
        var items = message.Records.Select(r => (JsonNode)r)
            .Concat(message.Contacts.Select(c => (JsonNode)new JsonArray(c.Id.ToString(), c.Endpoint)))
            .ToList();
        var recordCount = message.Records.Count;

        // Each item is measured once; a part's size is the header's (signed fields at their full length) plus its items
        // in their arrays, so splitting costs one serialisation per item rather than one of the whole part per item.
        var header = Size(Build(message, identity, items, recordCount, [], 0, 1, SignedFieldsAtFullLength));
        var sizes = items.Select(i => CanonicalJson.Serialize(i).Length).ToArray();
        var parts = new List<Part> { new() };
        for (var i = 0; i < items.Count; i++)
        {
            var isRecord = i < recordCount;
            if (parts[^1].SizeWith(header, isRecord, sizes[i]) <= MaxDatagram)
            {
                parts[^1].Add(i, isRecord, sizes[i]);
            }
            else if (parts.Count < MaxParts && new Part().SizeWith(header, isRecord, sizes[i]) <= MaxDatagram)
            {
                parts.Add(new Part());
                parts[^1].Add(i, isRecord, sizes[i]);
            }

            // Else the item does not fit: a reply carries what fits in MaxParts datagrams.
        }

        // A reply says it is complete only when every record it was given fits its datagrams.
        var sent = message with { Complete = message.Complete && parts.Sum(p => p.Items.Count(i => i < recordCount)) == recordCount };
        var datagrams = new List<byte[]>(parts.Count);
        for (var part = 0; part < parts.Count; part++)
        {
            var json = Build(sent, identity, items, recordCount, parts[part].Items, part, parts.Count, null);
            guard.StampAndSign(json, SignatureDomain.DhtRpc, identity);
            var bytes = CanonicalJson.Serialize(json);
            if (bytes.Length <= MaxDatagram)
            {
                datagrams.Add(bytes);
            }
        }

        return datagrams;
    }

    /// <summary>The items of one datagram and the bytes its two arrays take in canonical JSON.</summary>
    private sealed class Part
    {
        private int _records = -1;
        private int _contacts = -1;

        public List<int> Items { get; } = [];

        /// <summary>The part's size with one more item: <c>,"records":[a,b]</c> is 13 bytes around its items and their commas, <c>,"contacts":[…]</c> 14.</summary>
        public int SizeWith(int header, bool isRecord, int size) =>
            header + Array(isRecord ? Grow(_records, size) : _records, 13) + Array(isRecord ? _contacts : Grow(_contacts, size), 14);

        public void Add(int index, bool isRecord, int size)
        {
            Items.Add(index);
            if (isRecord)
            {
                _records = Grow(_records, size);
            }
            else
            {
                _contacts = Grow(_contacts, size);
            }
        }

        // -1 is an absent array; otherwise the items' bytes and the commas between them.
        private static int Grow(int current, int size) => current < 0 ? size : current + 1 + size;

        private static int Array(int content, int around) => content < 0 ? 0 : around + content;
    }

    /// <summary>
    /// Checks one received datagram: its size, its shape, then the signature by the key it carries and the
    /// freshness of its <c>timestamp</c> and <c>nonce</c> (the replay guard). Null with the refusal when any fails.
    /// </summary>
    public static DhtMessage? Decode(ReadOnlySpan<byte> datagram, ReplayGuard guard, out P2pRefusal? refusal)
    {
        ArgumentNullException.ThrowIfNull(guard);
        refusal = null;
        if (datagram.Length > MaxDatagram)
        {
            refusal = new P2pRefusal(P2pRejection.Oversized, $"a {datagram.Length}-byte datagram, more than {MaxDatagram}");
            return null;
        }

        if (!StrictJson.TryParse(datagram, out var node, out var error) || node is not JsonObject json)
        {
            refusal = new P2pRefusal(P2pRejection.Malformed, "the datagram is not a JSON object" + (error is null ? string.Empty : ": " + error));
            return null;
        }

        DhtMessage message;
        byte[] key;
        try
        {
            (message, key) = Parse(json);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or ArgumentException)
        {
            refusal = new P2pRefusal(P2pRejection.Malformed, "the datagram is malformed: " + e.Message);
            return null;
        }

        refusal = guard.Check(json, SignatureDomain.DhtRpc, key);
        return refusal is null ? message : null;
    }

    private static (DhtMessage, byte[]) Parse(JsonObject json)
    {
        var type = DhtMessage.FromWireName(Text(json, "t")) ?? throw new FormatException("t is not a DHT message type");
        var rid = Text(json, "rid");
        if (rid.Length != 16 || !rid.All(char.IsAsciiHexDigitLower))
        {
            throw new FormatException("rid is not 16 lowercase hex digits");
        }

        var key = Convert.FromBase64String(Text(json, "key"));
        if (key.Length != 32)
        {
            throw new FormatException("key is not a 32-byte Ed25519 public key");
        }

        DhtId? target = json["target"] is null ? null : DhtId.TryParse(Text(json, "target"), out var t) ? t : throw new FormatException("target is not 64 hex digits");
        var contacts = json["contacts"] is JsonArray list ? list : [];
        var records = json["records"] is JsonArray recordList ? recordList : [];
        if (contacts.Count > MaxContacts || records.Count > MaxRecords)
        {
            throw new FormatException($"more than {MaxContacts} contacts or {MaxRecords} records");
        }

        var have = json["have"] is JsonArray haveList ? haveList : [];
        if (have.Count > MaxHave)
        {
            throw new FormatException($"more than {MaxHave} held records");
        }

        var parts = json["parts"]?.GetValue<int>() ?? 1;
        var part = json["part"]?.GetValue<int>() ?? 0;
        if (parts is < 1 or > MaxParts || part < 0 || part >= parts)
        {
            throw new FormatException($"part {part} of {parts} (at most {MaxParts} parts)");
        }

        var message = new DhtMessage
        {
            Type = type,
            RequestId = rid,
            Sender = DhtId.FromBytes(SHA256.HashData(key)),
            Target = target,
            Contacts = [.. contacts.Select(Contact)],
            Records = [.. records.Select(r => r as JsonObject ?? throw new FormatException("a record is not an object"))],
            Accepted = json["accepted"]?.GetValue<int>() ?? 0,
            Have = [.. have.Select(Held)],
            RecordsOnly = Flag(json, "recordsOnly"),
            Complete = Flag(json, "complete"),
            Part = part,
            Parts = parts,
        };
        if (message.Type is DhtMessageType.FindNode or DhtMessageType.FindValue or DhtMessageType.Store && target is null)
        {
            throw new FormatException("a request without a target");
        }

        return (message, key);
    }

    private static DhtContact Contact(JsonNode? node)
    {
        if (node is not JsonArray { Count: 2 } pair || pair[0] is not JsonValue idValue || pair[1] is not JsonValue endpointValue
            || !idValue.TryGetValue<string>(out var idText) || !endpointValue.TryGetValue<string>(out var endpoint) || !DhtId.TryParse(idText, out var id))
        {
            throw new FormatException("a contact is not [id, \"host:port\"]");
        }

        var colon = endpoint.LastIndexOf(':');
        if (endpoint.Length > MaxEndpointLength || colon <= 0 || !int.TryParse(endpoint.AsSpan(colon + 1), out var port) || port is < 1 or > 65535)
        {
            throw new FormatException("a contact's address is not host:port");
        }

        return new DhtContact(id, endpoint);
    }

    private static HeldRecord Held(JsonNode? node)
    {
        if (node is not JsonArray { Count: 2 } pair || pair[0] is not JsonValue idValue || pair[1] is not JsonValue seqValue
            || !idValue.TryGetValue<string>(out var id) || id.Length != HeldRecord.IdLength || !id.All(char.IsAsciiHexDigitLower)
            || !seqValue.TryGetValue<long>(out var seq))
        {
            throw new FormatException($"a held record is not [\"<{HeldRecord.IdLength} hex>\", seq]");
        }

        return new HeldRecord(id, seq);
    }

    private static bool Flag(JsonObject json, string name) => json[name] switch
    {
        null => false,
        JsonValue value when value.TryGetValue<bool>(out var flag) => flag,
        _ => throw new FormatException($"{name} is not true or false"),
    };

    private static JsonObject Build(DhtMessage message, NodeIdentity identity, List<JsonNode> items, int recordCount, List<int> take, int part, int parts, JsonObject? signedFields)
    {
        var json = new JsonObject
        {
            ["t"] = DhtMessage.WireName(message.Type),
            ["rid"] = message.RequestId,
            ["key"] = identity.PublicKeyBase64,
        };
        if (message.Target is { } target)
        {
            json["target"] = target.ToString();
        }

        var records = take.Where(i => i < recordCount).Select(i => items[i].DeepClone()).ToArray();
        var contacts = take.Where(i => i >= recordCount).Select(i => items[i].DeepClone()).ToArray();
        if (contacts.Length > 0)
        {
            json["contacts"] = new JsonArray(contacts);
        }

        if (records.Length > 0)
        {
            json["records"] = new JsonArray(records);
        }

        if (message.Type == DhtMessageType.Stored)
        {
            json["accepted"] = message.Accepted;
        }

        if (message.Have.Count > 0)
        {
            json["have"] = new JsonArray([.. message.Have.Take(MaxHave).Select(h => (JsonNode)new JsonArray(h.Id, h.Seq))]);
        }

        if (message.RecordsOnly)
        {
            json["recordsOnly"] = true;
        }

        if (message.Complete)
        {
            json["complete"] = true;
        }

        if (parts > 1)
        {
            json["part"] = part;
            json["parts"] = parts;
        }

        foreach (var (name, value) in signedFields ?? [])
        {
            json[name] = value?.DeepClone();
        }

        return json;
    }

    private static int Size(JsonObject json) => CanonicalJson.Serialize(json).Length;

    /// <summary>
    /// <c>timestamp</c>, <c>nonce</c>, <c>signature</c> and two-part numbering at their full encoded lengths: a part is
    /// measured with them before it is signed, so that the signed datagram is never longer than the one measured.
    /// </summary>
    private static JsonObject SignedFieldsAtFullLength => new()
    {
        ["timestamp"] = "2000-01-01T00:00:00.000Z",
        ["nonce"] = new string('0', 32),
        ["signature"] = new string('A', 86) + "==",
        ["part"] = 0,
        ["parts"] = 2,
    };

    private static string Text(JsonObject json, string name) =>
        json[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : throw new FormatException($"{name} is missing or not a string");
}
