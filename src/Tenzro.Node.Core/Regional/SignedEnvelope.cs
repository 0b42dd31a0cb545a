using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Core.Regional;

/// <summary>
/// The signed message envelope of PROTOCOL.md section 10: every message carries <c>publicKey</c>,
/// <c>timestamp</c> and <c>signature</c>; the signature covers ASCII <c>tenzro-msg-v1</c>, a 0x00 byte,
/// and the RFC 8785 canonical JSON of the message without its <c>signature</c> member.
/// </summary>
/// <remarks>Thread-safe. Signing and verification share <see cref="SignedBytes"/>, so they cannot drift apart.</remarks>
public static class SignedEnvelope
{
    public const string Domain = "tenzro-msg-v1";
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromSeconds(300);

    /// <summary>The bytes that are signed for a message (its <c>signature</c> member is ignored).</summary>
    public static byte[] SignedBytes(JsonObject message)
    {
        var copy = (JsonObject)message.DeepClone();
        copy.Remove("signature");
        var canonical = CanonicalJson.Serialize(copy);
        var domain = Encoding.ASCII.GetBytes(Domain);
        var bytes = new byte[domain.Length + 1 + canonical.Length];
        domain.CopyTo(bytes, 0);
        canonical.CopyTo(bytes, domain.Length + 1);
        return bytes;
    }

    /// <summary>Adds <c>publicKey</c>, <c>timestamp</c> and <c>signature</c> to <paramref name="message"/> in place.</summary>
    public static JsonObject Sign(JsonObject message, NodeIdentity identity, DateTimeOffset now)
    {
        message["publicKey"] = identity.PublicKeyBase64;
        message["timestamp"] = Timestamps.Format(now);
        message.Remove("signature");
        message["signature"] = Convert.ToBase64String(identity.Sign(SignedBytes(message)));
        return message;
    }

    /// <summary>
    /// Verifies a received frame: size cap before parsing, a valid signature by the embedded key,
    /// the key bound to the claimed peer (when <paramref name="expectedPublicKey"/> is given), and a
    /// timestamp within <see cref="MaxClockSkew"/>.
    /// </summary>
    public static VerificationResult Verify(ReadOnlySpan<byte> frame, int maxSize, DateTimeOffset now, byte[]? expectedPublicKey = null)
    {
        if (frame.Length > maxSize)
        {
            return VerificationResult.Failed($"frame of {frame.Length} bytes exceeds the limit of {maxSize}");
        }

        JsonObject? message;
        try
        {
            message = JsonNode.Parse(frame) as JsonObject;
        }
        catch (JsonException)
        {
            return VerificationResult.Failed("frame is not JSON");
        }

        if (message is null)
        {
            return VerificationResult.Failed("frame is not a JSON object");
        }

        return Verify(message, now, expectedPublicKey);
    }

    /// <inheritdoc cref="Verify(ReadOnlySpan{byte}, int, DateTimeOffset, byte[])"/>
    public static VerificationResult Verify(JsonObject message, DateTimeOffset now, byte[]? expectedPublicKey = null)
    {
        if (message["publicKey"] is not JsonValue publicKeyValue || !publicKeyValue.TryGetValue<string>(out var publicKeyText)
            || message["signature"] is not JsonValue signatureValue || !signatureValue.TryGetValue<string>(out var signatureText))
        {
            return VerificationResult.Failed("message is not signed");
        }

        byte[] publicKey, signature;
        try
        {
            publicKey = Convert.FromBase64String(publicKeyText);
            signature = Convert.FromBase64String(signatureText);
        }
        catch (FormatException)
        {
            return VerificationResult.Failed("publicKey or signature is not base64");
        }

        if (expectedPublicKey is not null && !publicKey.AsSpan().SequenceEqual(expectedPublicKey))
        {
            return VerificationResult.Failed("message is signed by another key than the one bound to its peerId");
        }

        if (message["timestamp"] is not JsonValue timestampValue || !timestampValue.TryGetValue<string>(out var timestampText)
            || !DateTimeOffset.TryParse(timestampText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var timestamp))
        {
            return VerificationResult.Failed("message has no valid timestamp");
        }

        if ((now - timestamp).Duration() > MaxClockSkew)
        {
            return VerificationResult.Failed("timestamp is more than 300 s off");
        }

        byte[] signed;
        try
        {
            signed = SignedBytes(message);
        }
        catch (FormatException e)
        {
            return VerificationResult.Failed("message cannot be canonicalized: " + e.Message);
        }

        return NodeIdentity.Verify(publicKey, signed, signature)
            ? VerificationResult.Valid(publicKey)
            : VerificationResult.Failed("signature does not verify");
    }
}

/// <summary>The outcome of <see cref="SignedEnvelope.Verify(JsonObject, DateTimeOffset, byte[])"/>.</summary>
public sealed record VerificationResult(bool IsValid, string? Reason, byte[]? PublicKey)
{
    public static VerificationResult Valid(byte[] publicKey) => new(true, null, publicKey);

    public static VerificationResult Failed(string reason) => new(false, reason, null);
}
