using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Networking.Peers;

namespace Tenzro.Node.Tests.Peers;

[Trait("Suite", "peers")]
public sealed class PeerCertificateTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    [Fact]
    public void ProvenKey_CertificateMadeForIdentity_ProvesItsKey()
    {
        using var identity = NodeIdentity.CreateEphemeral();
        using var certificate = PeerCertificate.Create(identity, Now);

        var proven = PeerCertificate.ProvenKey(certificate, Now, out var problem);

        Assert.Null(problem);
        Assert.Equal(identity.PublicKey, proven);
        Assert.NotNull(certificate.GetECDsaPublicKey());
    }

    [Fact]
    public void ProvenKey_BindingCopiedOntoAnotherCertificateKey_IsRefused()
    {
        using var identity = NodeIdentity.CreateEphemeral();
        using var genuine = PeerCertificate.Create(identity, Now);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=copy", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(genuine.Extensions.Cast<X509Extension>().Single(e => e.Oid!.Value == PeerCertificate.BindingOid));
        using var copy = request.CreateSelfSigned(Now.AddHours(-1), Now.AddHours(1));

        Assert.Null(PeerCertificate.ProvenKey(copy, Now, out var problem));
        Assert.Contains("not signed by the key", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void ProvenKey_CertificateWithoutBinding_IsRefused()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var plain = new CertificateRequest("CN=plain", key, HashAlgorithmName.SHA256).CreateSelfSigned(Now.AddHours(-1), Now.AddHours(1));

        Assert.Null(PeerCertificate.ProvenKey(plain, Now, out var problem));
        Assert.Contains("no binding", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void ProvenKey_ExpiredCertificate_IsRefused()
    {
        using var identity = NodeIdentity.CreateEphemeral();
        using var certificate = PeerCertificate.Create(identity, Now.AddYears(-2));

        Assert.Null(PeerCertificate.ProvenKey(certificate, Now, out var problem));
        Assert.Contains("validity", problem, StringComparison.Ordinal);
    }
}
