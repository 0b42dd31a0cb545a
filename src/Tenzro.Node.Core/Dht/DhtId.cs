using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Tenzro.Node.Core.Dht;

/// <summary>
/// A 256-bit Kademlia id: a node id (the SHA-256 of its Ed25519 key, CONTRACTS "Identity") or a key under which
/// records are stored. Distance is the XOR of two ids read as a big-endian number. Immutable.
/// </summary>
public readonly struct DhtId : IEquatable<DhtId>
{
    public const int Bits = 256;
    private readonly ulong _a;
    private readonly ulong _b;
    private readonly ulong _c;
    private readonly ulong _d;

    private DhtId(ulong a, ulong b, ulong c, ulong d)
    {
        _a = a;
        _b = b;
        _c = c;
        _d = d;
    }

    public static DhtId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != 32)
        {
            throw new ArgumentException("A DHT id is 32 bytes.", nameof(bytes));
        }

        return new DhtId(
            BinaryPrimitives.ReadUInt64BigEndian(bytes),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]));
    }

    /// <summary>Reads 64 hex digits; false for anything else.</summary>
    public static bool TryParse(string? hex, out DhtId id)
    {
        id = default;
        if (hex is not { Length: 64 } || !hex.All(char.IsAsciiHexDigit))
        {
            return false;
        }

        id = FromBytes(Convert.FromHexString(hex));
        return true;
    }

    public static DhtId Parse(string hex) => TryParse(hex, out var id) ? id : throw new FormatException("A DHT id is 64 hex digits.");

    /// <summary>The key of the records of nodes of one tier in one region: sha256(<c>tenzro/v1/tier/&lt;tier&gt;/&lt;region&gt;</c>).</summary>
    public static DhtId TierKey(string tier, string region) => FromBytes(SHA256.HashData(Encoding.UTF8.GetBytes($"tenzro/v1/tier/{tier}/{region}")));

    /// <summary>A uniformly random id.</summary>
    public static DhtId Random() => FromBytes(RandomNumberGenerator.GetBytes(32));

    /// <summary>A random id at exactly <paramref name="bucket"/> common leading bits with this one (for a bucket refresh).</summary>
    public DhtId RandomInBucket(int bucket)
    {
        var random = Random();
        var self = ToBytes();
        var other = random.ToBytes();
        for (var bit = 0; bit < Bits; bit++)
        {
            var mask = (byte)(0x80 >> (bit % 8));
            var own = self[bit / 8] & mask;
            if (bit < bucket)
            {
                other[bit / 8] = (byte)((other[bit / 8] & ~mask) | own);
            }
            else if (bit == bucket)
            {
                other[bit / 8] = (byte)((other[bit / 8] & ~mask) | (own ^ mask));
                break;
            }
        }

        return FromBytes(other);
    }

    public DhtId Xor(DhtId other) => new(_a ^ other._a, _b ^ other._b, _c ^ other._c, _d ^ other._d);

    /// <summary>The number of leading bits this id shares with <paramref name="other"/> (256 for the same id): its bucket.</summary>
    public int CommonPrefixLength(DhtId other)
    {
        var x = Xor(other);
        if (x._a != 0)
        {
            return (int)ulong.LeadingZeroCount(x._a);
        }

        if (x._b != 0)
        {
            return 64 + (int)ulong.LeadingZeroCount(x._b);
        }

        if (x._c != 0)
        {
            return 128 + (int)ulong.LeadingZeroCount(x._c);
        }

        return x._d != 0 ? 192 + (int)ulong.LeadingZeroCount(x._d) : Bits;
    }

    /// <summary>Orders <paramref name="x"/> and <paramref name="y"/> by their distance to this id.</summary>
    public int CompareDistance(DhtId x, DhtId y)
    {
        var dx = Xor(x);
        var dy = Xor(y);
        var c = dx._a.CompareTo(dy._a);
        if (c != 0)
        {
            return c;
        }

        c = dx._b.CompareTo(dy._b);
        if (c != 0)
        {
            return c;
        }

        c = dx._c.CompareTo(dy._c);
        return c != 0 ? c : dx._d.CompareTo(dy._d);
    }

    public byte[] ToBytes()
    {
        var bytes = new byte[32];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, _a);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(8), _b);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(16), _c);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(24), _d);
        return bytes;
    }

    public bool Equals(DhtId other) => _a == other._a && _b == other._b && _c == other._c && _d == other._d;

    public override bool Equals(object? obj) => obj is DhtId other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_a, _b, _c, _d);

    public static bool operator ==(DhtId left, DhtId right) => left.Equals(right);

    public static bool operator !=(DhtId left, DhtId right) => !left.Equals(right);

    /// <summary>64 lowercase hex digits, the form of node ids.</summary>
    public override string ToString() => Convert.ToHexStringLower(ToBytes());
}

/// <summary>A node of the DHT: its id and the <c>host:port</c> its datagrams come from (CONTRACTS: <c>[id, "host:port"]</c>).</summary>
public sealed record DhtContact(DhtId Id, string Endpoint)
{
    public override string ToString() => $"{Convert.ToHexStringLower(Id.ToBytes())[..16]}@{Endpoint}";
}
