using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Regional;

namespace Tenzro.Node.Networking.Regional;

/// <summary>Where and how the node reaches its regional node: the URL it dials and the transport rules.</summary>
internal static class RegionalEndpoint
{
    /// <summary>The URL to dial: REGIONAL_NODE_URL (else the first BOOTSTRAP_NODES entry) with <c>/ws</c> appended when it has no path; null when standalone.</summary>
    public static Uri? Resolve(NetworkOptions network) => network.EffectiveRegionalUrl is { } url ? WithPath(url) : null;

    /// <summary>Appends <c>/ws</c> to a URL without a path (the regional node serves its link there).</summary>
    public static Uri WithPath(Uri url) =>
        url.AbsolutePath is "" or "/" ? new UriBuilder(url) { Path = "/ws" }.Uri : url;

    /// <summary>Why the URL may not be dialled (plain ws:// to a host that is not loopback), or null when it may.</summary>
    public static string? TransportRefusal(Uri url, bool allowInsecureTransport) =>
        url.Scheme == "ws" && !url.IsLoopback && !allowInsecureTransport
            ? $"{url} is plain ws:// to a host that is not loopback: messages and results would cross the network unencrypted. Use wss://, or set ALLOW_INSECURE_TRANSPORT=true to allow it."
            : null;
}

/// <summary>
/// Certificate validation for wss:// links: a certificate the system store trusts is accepted; otherwise,
/// when REGIONAL_CA_CERT is set, a certificate whose chain ends at one of its CA certificates (and whose
/// name matches the host) is accepted too.
/// </summary>
/// <remarks>Thread-safe after construction.</remarks>
internal sealed class RegionalTrust : IDisposable
{
    private readonly X509Certificate2Collection _authorities;

    private RegionalTrust(X509Certificate2Collection authorities, string? path)
    {
        _authorities = authorities;
        CaPath = path;
    }

    /// <summary>The REGIONAL_CA_CERT file, or null when only the system store is trusted.</summary>
    public string? CaPath { get; }

    /// <summary>Loads REGIONAL_CA_CERT (if set).</summary>
    /// <exception cref="RegionalLinkException">The file cannot be read or holds no PEM certificate.</exception>
    public static RegionalTrust Load(string? caPath)
    {
        var authorities = new X509Certificate2Collection();
        if (caPath is null)
        {
            return new RegionalTrust(authorities, null);
        }

        try
        {
            authorities.ImportFromPemFile(caPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new RegionalLinkException($"REGIONAL_CA_CERT {caPath} cannot be read as a PEM certificate: {e.Message}");
        }

        if (authorities.Count == 0)
        {
            throw new RegionalLinkException($"REGIONAL_CA_CERT {caPath} holds no '-----BEGIN CERTIFICATE-----' block.");
        }

        return new RegionalTrust(authorities, caPath);
    }

    /// <summary>The <see cref="RemoteCertificateValidationCallback"/> of the link.</summary>
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        // A name mismatch or a missing certificate is never forgiven; only an untrusted chain may be
        // re-checked against the configured authorities.
        if (_authorities.Count == 0 || certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0)
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_authorities);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            foreach (var element in chain.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return custom.Build(leaf);
    }

    public void Dispose()
    {
        foreach (var authority in _authorities)
        {
            authority.Dispose();
        }
    }
}

/// <summary>The regional link cannot be set up as configured.</summary>
internal sealed class RegionalLinkException(string message) : Exception(message);
