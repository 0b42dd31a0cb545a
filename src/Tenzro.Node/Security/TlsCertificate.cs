using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tenzro.Node.Security;

/// <summary>
/// The HTTPS certificate of TLS_CERT_PATH and TLS_KEY_PATH (PEM), reloaded when either file changes: every
/// TLS handshake asks for <see cref="Current"/>, which looks at the files' modification times at most once a
/// second. A pair that cannot be read (a file half written) keeps the previous certificate and is retried.
/// </summary>
/// <remarks>Thread-safe.</remarks>
internal sealed partial class TlsCertificate(string certificatePath, string keyPath, TimeProvider time, ILogger<TlsCertificate> logger) : IDisposable
{
    private static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(1);
    private readonly Lock _lock = new();
    private X509Certificate2? _current;
    private (DateTime Certificate, DateTime Key) _stamps;
    private DateTimeOffset _checkedAt = DateTimeOffset.MinValue;

    /// <summary>Loads the pair now, so that a bad file stops start-up instead of the first handshake.</summary>
    /// <exception cref="CryptographicException">The files are not a PEM certificate and its private key.</exception>
    public void LoadNow()
    {
        lock (_lock)
        {
            _stamps = Stamps();
            _current = Load();
            _checkedAt = time.GetUtcNow();
        }
    }

    /// <summary>The certificate to present; reloaded when the files changed since it was read.</summary>
    public X509Certificate2 Current
    {
        get
        {
            lock (_lock)
            {
                var now = time.GetUtcNow();
                if (_current is null || now - _checkedAt >= CheckEvery)
                {
                    _checkedAt = now;
                    var stamps = Stamps();
                    if (_current is null || stamps != _stamps)
                    {
                        try
                        {
                            var loaded = Load();
                            _current?.Dispose();
                            _current = loaded;
                            _stamps = stamps;
                            LogReloaded(logger, certificatePath, loaded.Subject, loaded.NotAfter);
                        }
                        catch (Exception e) when (e is CryptographicException or IOException && _current is not null)
                        {
                            LogReloadFailed(logger, certificatePath, keyPath, e.Message);
                        }
                    }
                }

                return _current!;
            }
        }
    }

    public void Dispose() => _current?.Dispose();

    private (DateTime, DateTime) Stamps() => (File.GetLastWriteTimeUtc(certificatePath), File.GetLastWriteTimeUtc(keyPath));

    private X509Certificate2 Load() => X509Certificate2.CreateFromPemFile(certificatePath, keyPath);

    [LoggerMessage(EventId = Hosting.LogEvents.TlsCertificateLoaded, Level = LogLevel.Information, Message = "HTTPS certificate loaded from {Path}: {Subject}, valid until {NotAfter}")]
    private static partial void LogReloaded(ILogger logger, string path, string subject, DateTime notAfter);

    [LoggerMessage(EventId = Hosting.LogEvents.TlsCertificateReloadFailed, Level = LogLevel.Warning, Message = "The HTTPS certificate {CertificatePath} or its key {KeyPath} changed but cannot be read ({Reason}); the previous certificate is kept")]
    private static partial void LogReloadFailed(ILogger logger, string certificatePath, string keyPath, string reason);
}
