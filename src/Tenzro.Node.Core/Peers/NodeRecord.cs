using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Core.Peers;

/// <summary>What a node record says, without its id, key, <c>seq</c>, expiry and signature.</summary>
public sealed record NodeRecordContent
{
    public required string Version { get; init; }
    public string Protocol { get; init; } = NodeRecord.ProtocolVersion;
    public required string Tier { get; init; }
    public required string QualifiedTier { get; init; }
    public required string Region { get; init; }
    public required string Arch { get; init; }
    public IReadOnlyList<string> Addresses { get; init; } = [];
    public int RaftPort { get; init; }
    public IReadOnlyList<string> Capabilities { get; init; } = [];
    /// <summary>Free resources as the record announces them (<c>free</c>, with <c>cpuCores</c>), rounded by <see cref="ResourceAmounts.Coarse"/>.</summary>
    public required ResourceAmounts Free { get; init; }

    /// <summary>
    /// The benchmarked integer operations a second of the free cores (<c>free.cpuOpsPerSecond</c>, from
    /// <see cref="Optimization.BenchmarkCapacity.FreeCpuOpsPerSecond"/>); null before the benchmarks ran and in the records
    /// of nodes that do not announce it. An addition to CONTRACTS "Node record" that older readers ignore.
    /// </summary>
    public long? FreeCpuOpsPerSecond { get; init; }

    /// <summary>Equal content means no new <c>seq</c> is due.</summary>
    public bool SameAs(NodeRecordContent other) =>
        Version == other.Version && Protocol == other.Protocol && Tier == other.Tier && QualifiedTier == other.QualifiedTier
        && Region == other.Region && Arch == other.Arch && RaftPort == other.RaftPort && Free == other.Free
        && FreeCpuOpsPerSecond == other.FreeCpuOpsPerSecond
        && Addresses.SequenceEqual(other.Addresses) && Capabilities.SequenceEqual(other.Capabilities);

    /// <summary>The record's <c>free</c> object: the five figures (with <c>cpuCores</c>) and, where known, <c>cpuOpsPerSecond</c>.</summary>
    public JsonObject FreeJson()
    {
        var json = Free.ToJson(ResourceAmounts.CpuCoresName);
        if (FreeCpuOpsPerSecond is { } ops)
        {
            json[CpuOpsPerSecondName] = ops;
        }

        return json;
    }

    /// <summary>The name of the speed figure in <c>free</c>.</summary>
    public const string CpuOpsPerSecondName = "cpuOpsPerSecond";

    /// <summary>Reads <c>free.cpuOpsPerSecond</c>: null when absent; a figure that is not a non-negative number is malformed.</summary>
    internal static long? ReadCpuOpsPerSecond(JsonObject free) => free[CpuOpsPerSecondName] switch
    {
        null => null,
        JsonValue value when value.GetValueKind() == JsonValueKind.Number && JsonFields.NumberOf(value) is >= 0 and <= 1e18 and var ops => (long)ops,
        _ => throw new FormatException($"free.{CpuOpsPerSecondName} is not a number of operations a second"),
    };
}

/// <summary>
/// A signed node record (CONTRACTS "Node record"): sent in the peer-link hello and, later, stored in the DHT.
/// Signed in the <c>node-record</c> domain; at most <see cref="MaxCanonicalBytes"/> of canonical JSON; the highest
/// <see cref="Seq"/> wins and an expired record is dropped. Immutable.
/// </summary>
public sealed record NodeRecord
{
    /// <summary>The protocol this node speaks; a peer whose major version differs is refused.</summary>
    public const string ProtocolVersion = "1.0";

    public const int MaxCanonicalBytes = 800;

    private NodeRecord(string id, byte[] publicKey, long seq, DateTimeOffset expiresAt, NodeRecordContent content, JsonObject json)
    {
        Id = id;
        PublicKey = publicKey;
        Seq = seq;
        ExpiresAt = expiresAt;
        Content = content;
        Json = json;
    }

    public string Id { get; }

    /// <summary>The 32 raw bytes of the Ed25519 public key; <see cref="Id"/> is its SHA-256.</summary>
    public byte[] PublicKey { get; }

    public long Seq { get; }

    public DateTimeOffset ExpiresAt { get; }

    public NodeRecordContent Content { get; }

    /// <summary>The signed record as it travels. Callers must not change it (clone it to embed it).</summary>
    public JsonObject Json { get; }

    /// <summary>The major number of <c>protocol</c> ("1" of "1.0").</summary>
    public string ProtocolMajor => Major(Content.Protocol);

    public bool IsExpired(DateTimeOffset now) => now >= ExpiresAt;

    /// <summary>Of two records of one node, the one with the higher <c>seq</c> wins; a record of another node never replaces this one.</summary>
    public bool Supersedes(NodeRecord? other) => other is null || (other.Id == Id && Seq > other.Seq);

    /// <summary>Builds and signs a record of <paramref name="identity"/>.</summary>
    /// <exception cref="ArgumentException">The record would exceed <see cref="MaxCanonicalBytes"/>.</exception>
    public static NodeRecord Create(NodeIdentity identity, NodeRecordContent content, long seq, DateTimeOffset expiresAt)
    {
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(content);
        var json = ToJson(identity.NodeId, identity.PublicKeyBase64, seq, expiresAt, content);
        DomainSignature.Sign(json, SignatureDomain.NodeRecord, identity);
        var size = CanonicalJson.Serialize(json).Length;
        if (size > MaxCanonicalBytes)
        {
            throw new ArgumentException($"The node record is {size} bytes of canonical JSON; at most {MaxCanonicalBytes} are allowed (fewer addresses or capabilities).", nameof(content));
        }

        return new NodeRecord(identity.NodeId, identity.PublicKey, seq, expiresAt, content, json);
    }

    /// <summary>
    /// Checks a received record: size, shape, the id being the hash of the key, the signature in the
    /// <c>node-record</c> domain and the expiry, in that order (the cheap checks first).
    /// </summary>
    public static NodeRecord? Read(JsonNode? node, DateTimeOffset now, out P2pRefusal? refusal)
    {
        refusal = null;
        if (node is not JsonObject json)
        {
            refusal = new P2pRefusal(P2pRejection.Malformed, "the record is not a JSON object");
            return null;
        }

        int size;
        try
        {
            size = CanonicalJson.Serialize(json).Length;
        }
        catch (FormatException e)
        {
            refusal = new P2pRefusal(P2pRejection.Malformed, "the record has no canonical form: " + e.Message);
            return null;
        }

        if (size > MaxCanonicalBytes)
        {
            refusal = new P2pRefusal(P2pRejection.Oversized, $"the record is {size} bytes of canonical JSON, more than {MaxCanonicalBytes}");
            return null;
        }

        NodeRecord record;
        try
        {
            record = Parse(json);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or JsonException or KeyNotFoundException)
        {
            refusal = new P2pRefusal(P2pRejection.Malformed, "the record is malformed: " + e.Message);
            return null;
        }

        if (record.PublicKey.Length != 32 || DomainSignature.NodeIdOf(record.PublicKey) != record.Id)
        {
            refusal = new P2pRefusal(P2pRejection.IdMismatch, $"the record's id {Short(record.Id)} is not the SHA-256 of its public key");
            return null;
        }

        if (!DomainSignature.Verify(json, SignatureDomain.NodeRecord, record.PublicKey))
        {
            refusal = new P2pRefusal(P2pRejection.BadSignature, $"the record of {Short(record.Id)} is not signed by its key in the node-record domain");
            return null;
        }

        if (record.IsExpired(now))
        {
            refusal = new P2pRefusal(P2pRejection.Expired, $"the record of {Short(record.Id)} expired at {record.ExpiresAt:O}");
            return null;
        }

        return record;
    }

    /// <summary>The 16-hex short form of a node id.</summary>
    public static string Short(string id) => id.Length > 16 ? id[..16] : id;

    /// <summary>The major number of a protocol version string.</summary>
    public static string Major(string protocol)
    {
        var dot = protocol.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? protocol : protocol[..dot];
    }

    private static JsonObject ToJson(string id, string publicKey, long seq, DateTimeOffset expiresAt, NodeRecordContent c) => new()
    {
        ["id"] = id,
        ["publicKey"] = publicKey,
        ["seq"] = seq,
        ["expiresAt"] = Timestamps.Format(expiresAt),
        ["version"] = c.Version,
        ["protocol"] = c.Protocol,
        ["tier"] = c.Tier,
        ["qualifiedTier"] = c.QualifiedTier,
        ["region"] = c.Region,
        ["arch"] = c.Arch,
        ["addresses"] = new JsonArray([.. c.Addresses.Select(a => (JsonNode)a)]),
        ["raftPort"] = c.RaftPort,
        ["capabilities"] = new JsonArray([.. c.Capabilities.Select(a => (JsonNode)a)]),
        ["free"] = c.FreeJson(),
    };

    private static NodeRecord Parse(JsonObject json)
    {
        var fields = json.Deserialize(CoreJson.Default.NodeRecordFields) ?? throw new FormatException("the record is null");
        var content = new NodeRecordContent
        {
            Version = Required(fields.Version, "version"),
            Protocol = Required(fields.Protocol, "protocol"),
            Tier = Required(fields.Tier, "tier"),
            QualifiedTier = Required(fields.QualifiedTier, "qualifiedTier"),
            Region = Required(fields.Region, "region"),
            Arch = Required(fields.Arch, "arch"),
            Addresses = NoNulls(fields.Addresses, "addresses"),
            RaftPort = fields.RaftPort ?? 0,
            Capabilities = NoNulls(fields.Capabilities, "capabilities"),
            Free = fields.Free is { } free ? ResourceAmounts.FromJson(free, ResourceAmounts.CpuCoresName) : throw new FormatException("free is missing"),
            FreeCpuOpsPerSecond = NodeRecordContent.ReadCpuOpsPerSecond(fields.Free),
        };
        var expiresAt = Timestamps.Parse(Required(fields.ExpiresAt, "expiresAt")) ?? throw new FormatException("expiresAt is not a timestamp");
        var seq = fields.Seq ?? throw new FormatException("seq is missing");
        if (seq is < 0 or > MaxSeq)
        {
            // seq starts at 0 and grows by one a change; beyond 2^53 canonical JSON (a double) cannot carry it exactly.
            throw new FormatException($"seq is {seq}, outside 0 to 2^53");
        }

        return new NodeRecord(Required(fields.Id, "id"), Convert.FromBase64String(Required(fields.PublicKey, "publicKey")), seq, expiresAt, content, json);
    }

    /// <summary>The largest <c>seq</c> a record may carry: the largest integer that canonical JSON's numbers (doubles) hold exactly.</summary>
    public const long MaxSeq = 1L << 53;

    private static string Required(string? text, string name) => text ?? throw new FormatException($"{name} is missing or not a string");

    private static string[] NoNulls(IReadOnlyList<string?>? items, string name) =>
        items is null ? [] : [.. items.Select(item => item ?? throw new FormatException($"{name} holds a null"))];
}

/// <summary>
/// The members of a received node record, read by the serializer. Only the reading is typed: the signed form is
/// written by <see cref="NodeRecord.Create"/> as canonical JSON over fixed names, which the signature covers.
/// </summary>
public sealed record NodeRecordFields(
    string? Id,
    string? PublicKey,
    long? Seq,
    string? ExpiresAt,
    string? Version,
    string? Protocol,
    string? Tier,
    string? QualifiedTier,
    string? Region,
    string? Arch,
    IReadOnlyList<string?>? Addresses,
    int? RaftPort,
    IReadOnlyList<string?>? Capabilities,
    JsonObject? Free);
