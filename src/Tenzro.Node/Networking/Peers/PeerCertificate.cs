using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Identity;

namespace Tenzro.Node.Networking.Peers;

/// <summary>
/// The certificate a node presents on peer links, after the libp2p TLS handshake design: a self-signed ECDSA P-256
/// certificate whose key is unrelated to the identity, carrying an extension that binds it to the node's Ed25519
/// key. The extension is a DER <c>SEQUENCE { OCTET STRING ed25519PublicKey, OCTET STRING signature }</c>; the
/// signature is the domain signature (<c>peer-hello</c>) of <c>{"type":"certificate","spki":"&lt;base64 DER
/// SubjectPublicKeyInfo&gt;"}</c>. docs/NETWORK.md says how this differs from libp2p's.
/// </summary>
/// <remarks>Thread-safe: all members are static.</remarks>
internal static class PeerCertificate
{
    /// <summary>The extension's OID, under the UUID arc 2.25 (no registration needed).</summary>
    public const string BindingOid = "2.25.108696991437307553416643305835136004975";

    /// <summary>A fresh certificate bound to <paramref name="identity"/>, valid from an hour ago for a year.</summary>
    public static X509Certificate2 Create(NodeIdentity identity, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=tenzro-" + identity.NodeId[..16], key, HashAlgorithmName.SHA256);
        var spki = key.ExportSubjectPublicKeyInfo();
        request.CertificateExtensions.Add(new X509Extension(BindingOid, Binding(identity, spki), critical: false));
        using var certificate = request.CreateSelfSigned(now.AddHours(-1), now.AddYears(1));
        // A PKCS#12 round trip gives a certificate whose private key OpenSSL can use on both sides of a handshake.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>The extension value that binds the certificate key <paramref name="spki"/> to <paramref name="identity"/>.</summary>
    public static byte[] Binding(NodeIdentity identity, byte[] spki)
    {
        var payload = DomainSignature.Sign(Payload(spki), SignatureDomain.PeerHello, identity);
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteOctetString(identity.PublicKey);
            writer.WriteOctetString(Convert.FromBase64String(payload["signature"]!.GetValue<string>()));
        }

        return writer.Encode();
    }

    /// <summary>
    /// The Ed25519 public key that <paramref name="certificate"/> proves, or a reason why it proves none: no binding
    /// extension, a malformed one, a signature that does not cover this certificate's key, or a certificate
    /// outside its validity period.
    /// </summary>
    public static byte[]? ProvenKey(X509Certificate? certificate, DateTimeOffset now, out string? problem)
    {
        problem = null;
        if (certificate is null)
        {
            problem = "the peer presented no certificate";
            return null;
        }

        using var owned = certificate as X509Certificate2 is null ? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()) : null;
        var cert = owned ?? (X509Certificate2)certificate;
        if (now < cert.NotBefore.ToUniversalTime() || now > cert.NotAfter.ToUniversalTime())
        {
            problem = "the peer's certificate is outside its validity period";
            return null;
        }

        var extension = cert.Extensions.Cast<X509Extension>().FirstOrDefault(e => e.Oid?.Value == BindingOid);
        if (extension is null)
        {
            problem = "the peer's certificate carries no binding to a node identity";
            return null;
        }

        byte[] publicKey, signature;
        try
        {
            var reader = new AsnReader(extension.RawData, AsnEncodingRules.DER);
            var sequence = reader.ReadSequence();
            publicKey = sequence.ReadOctetString();
            signature = sequence.ReadOctetString();
            sequence.ThrowIfNotEmpty();
            reader.ThrowIfNotEmpty();
        }
        catch (AsnContentException)
        {
            problem = "the peer's certificate binding is malformed";
            return null;
        }

        var payload = Payload(cert.PublicKey.ExportSubjectPublicKeyInfo());
        payload["signature"] = Convert.ToBase64String(signature);
        if (!DomainSignature.Verify(payload, SignatureDomain.PeerHello, publicKey))
        {
            problem = "the peer's certificate binding is not signed by the key it names for this certificate";
            return null;
        }

        return publicKey;
    }

    private static JsonObject Payload(byte[] spki) => new() { ["type"] = "certificate", ["spki"] = Convert.ToBase64String(spki) };
}
