using System.Text;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Core.Identity;

/// <summary>What a signature is for (CONTRACTS "Identity and signatures"): a fixed list, one per kind of payload.</summary>
public enum SignatureDomain
{
    NodeRecord,
    MdnsTxt,
    DhtRpc,
    PeerHello,
    Group,
}

/// <summary>
/// The one signing function for everything that is not the regional envelope: Ed25519 over the UTF-8 bytes of
/// <c>tenzro/v1/&lt;domain&gt;\n</c> followed by the RFC 8785 canonical JSON of the payload without its
/// <c>signature</c> member. The domain prefix makes a signature made for one domain fail in every other.
/// </summary>
/// <remarks>Thread-safe. Signing and verification share <see cref="SignedBytes"/>, so they cannot drift apart.</remarks>
public static class DomainSignature
{
    /// <summary>The wire name of a domain: <c>node-record</c>, <c>mdns-txt</c>, <c>dht-rpc</c>, <c>peer-hello</c>, <c>group</c>.</summary>
    public static string Name(SignatureDomain domain) => domain switch
    {
        SignatureDomain.NodeRecord => "node-record",
        SignatureDomain.MdnsTxt => "mdns-txt",
        SignatureDomain.DhtRpc => "dht-rpc",
        SignatureDomain.PeerHello => "peer-hello",
        SignatureDomain.Group => "group",
        _ => throw new ArgumentOutOfRangeException(nameof(domain), domain, "not a signature domain"),
    };

    /// <summary>The bytes that are signed: the domain line, then the canonical payload without <c>signature</c>.</summary>
    /// <exception cref="FormatException">The payload holds a value that has no canonical form.</exception>
    public static byte[] SignedBytes(SignatureDomain domain, JsonObject payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var copy = (JsonObject)payload.DeepClone();
        copy.Remove("signature");
        var prefix = Encoding.UTF8.GetBytes($"tenzro/v1/{Name(domain)}\n");
        var canonical = CanonicalJson.Serialize(copy);
        var bytes = new byte[prefix.Length + canonical.Length];
        prefix.CopyTo(bytes, 0);
        canonical.CopyTo(bytes, prefix.Length);
        return bytes;
    }

    /// <summary>Sets <c>signature</c> (base64) on <paramref name="payload"/> in place and returns it.</summary>
    public static JsonObject Sign(JsonObject payload, SignatureDomain domain, NodeIdentity identity)
    {
        ArgumentNullException.ThrowIfNull(identity);
        payload.Remove("signature");
        var signature = identity.Sign(SignedBytes(domain, payload));
        payload["signature"] = Convert.ToBase64String(signature);
        return payload;
    }

    /// <summary>
    /// True when <paramref name="payload"/>'s <c>signature</c> is a valid Ed25519 signature by
    /// <paramref name="publicKey"/> in <paramref name="domain"/>; false for a missing, malformed or wrong signature.
    /// </summary>
    public static bool Verify(JsonObject payload, SignatureDomain domain, ReadOnlySpan<byte> publicKey)
    {
        ArgumentNullException.ThrowIfNull(payload);
        if (payload["signature"] is not JsonValue value || !value.TryGetValue<string>(out var text))
        {
            return false;
        }

        byte[] signature, signed;
        try
        {
            signature = Convert.FromBase64String(text);
            signed = SignedBytes(domain, payload);
        }
        catch (FormatException)
        {
            return false;
        }

        return NodeIdentity.Verify(publicKey, signed, signature);
    }

    /// <summary>The node id of a raw public key: lowercase hex SHA-256 (CONTRACTS "Identity and signatures").</summary>
    public static string NodeIdOf(ReadOnlySpan<byte> publicKey) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(publicKey));
}
