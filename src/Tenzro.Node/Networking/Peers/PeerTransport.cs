using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Networking.Peers;

/// <summary>A peer link refused or broken, with the reason label of <c>tenzro_p2p_rejected_total</c> (null: a plain failure).</summary>
internal sealed class PeerLinkException(string message, string? reason = null, Exception? inner = null) : Exception(message, inner)
{
    public string? Reason { get; } = reason;
}

/// <summary>A TLS 1.3 connection with a proven peer key and a WebSocket at <c>/p2p</c> inside it, before the hello.</summary>
internal sealed class PeerConnection(WebSocket socket, Stream stream, byte[] provenKey, IPEndPoint remote, bool dialled) : IAsyncDisposable
{
    public WebSocket Socket { get; } = socket;

    /// <summary>The Ed25519 key the peer's certificate is bound to.</summary>
    public byte[] ProvenKey { get; } = provenKey;

    public string ProvenId { get; } = DomainSignature.NodeIdOf(provenKey);

    public IPEndPoint Remote { get; } = remote;

    /// <summary>True when this node dialled the link.</summary>
    public bool Dialled { get; } = dialled;

    public async ValueTask DisposeAsync()
    {
        Socket.Dispose();
        await stream.DisposeAsync();
    }
}

/// <summary>
/// The peer-link transport (CONTRACTS "Peer links"): TCP, the platform's TLS 1.3 (<see cref="SslStream"/>) with
/// certificates bound to node identities on both sides, then a WebSocket upgrade at <c>/p2p</c>. Any other path
/// is answered 404. The steps are exposed one by one so that <c>network-diagnostics</c> can report each.
/// </summary>
/// <remarks>Thread-safe: the certificate is made once and shared by every connection.</remarks>
internal sealed class PeerTransport(NodeIdentity identity, TimeProvider time, X509Certificate2? certificate = null)
{
    public const string Path = "/p2p";
    private const int MaxHeaderBytes = 8192;
    // One certificate and one certificate context for every connection: building the context walks the chain.
    private readonly Lazy<SslStreamCertificateContext> _context = new(() =>
        SslStreamCertificateContext.Create(certificate ?? PeerCertificate.Create(identity, time.GetUtcNow()), null, offline: true));

    /// <summary>
    /// Time allowed for TCP, TLS and the WebSocket upgrade of one connection (PEER_HELLO_TIMEOUT): a dial into a path
    /// that drops packets gives up after it, and so does an accepted connection that stalls.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Builds the certificate and its context now, so that the first link (often right after start, when LAN discovery finds peers) does not wait for them.</summary>
    public void Prepare() => _ = _context.Value;

    /// <summary>The identity-bound certificate this node presents (the group log presents it too).</summary>
    public X509Certificate2 Certificate => (X509Certificate2)_context.Value.TargetCertificate;

    /// <summary>Opens TCP to <paramref name="address"/>.</summary>
    public static async Task<Socket> ConnectTcpAsync(PeerAddress address, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(address.Host, address.Port, cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// TLS as the client: the server's certificate must be bound to a key whose hash is <paramref name="expectedId"/>,
    /// else the handshake is aborted (a man in the middle, or the wrong id dialled).
    /// </summary>
    public async Task<(SslStream Stream, byte[] ProvenKey)> AuthenticateAsClientAsync(Socket socket, string expectedId, CancellationToken cancellationToken)
    {
        byte[]? proven = null;
        string? problem = null;
        string? reason = null;
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = "tenzro-" + NodeRecord.Short(expectedId),
            EnabledSslProtocols = SslProtocols.Tls13,
            ClientCertificateContext = _context.Value,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, remote, _, _) =>
            {
                proven = PeerCertificate.ProvenKey(remote, time.GetUtcNow(), out problem);
                if (proven is null)
                {
                    reason = P2pRejection.Certificate;
                    return false;
                }

                var id = DomainSignature.NodeIdOf(proven);
                if (id != expectedId)
                {
                    (reason, problem, proven) = (P2pRejection.WrongId, $"wrong id: the peer proved the key of {NodeRecord.Short(id)}, not of the dialled {NodeRecord.Short(expectedId)}", null);
                    return false;
                }

                return true;
            },
        };
        try
        {
            await ssl.AuthenticateAsClientAsync(options, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Timed out (a path that drops packets) or stopping: the socket goes with the stream.
            await ssl.DisposeAsync();
            throw;
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await ssl.DisposeAsync();
            throw new PeerLinkException(problem ?? "TLS handshake failed: " + e.Message, reason, e);
        }

        return (ssl, proven!);
    }

    /// <summary>TLS as the server, requiring a client certificate bound to a node identity.</summary>
    public async Task<(SslStream Stream, byte[] ProvenKey)> AuthenticateAsServerAsync(Socket socket, CancellationToken cancellationToken)
    {
        byte[]? proven = null;
        string? problem = null;
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = _context.Value,
            ClientCertificateRequired = true,
            EnabledSslProtocols = SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, remote, _, _) =>
            {
                proven = PeerCertificate.ProvenKey(remote, time.GetUtcNow(), out problem);
                return proven is not null;
            },
        };
        try
        {
            await ssl.AuthenticateAsServerAsync(options, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Timed out (a path that drops packets) or stopping: the socket goes with the stream.
            await ssl.DisposeAsync();
            throw;
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await ssl.DisposeAsync();
            throw new PeerLinkException(problem ?? "TLS handshake failed: " + e.Message, problem is null ? null : P2pRejection.Certificate, e);
        }

        return (ssl, proven!);
    }

    /// <summary>Dials <paramref name="address"/>: TCP, TLS with the identity check, and the WebSocket upgrade.</summary>
    public async Task<PeerConnection> DialAsync(PeerAddress address, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(HandshakeTimeout);
        var socket = await ConnectTcpAsync(address, timeout.Token);
        var remote = (IPEndPoint)socket.RemoteEndPoint!;
        var (ssl, proven) = await AuthenticateAsClientAsync(socket, address.NodeId, timeout.Token);
        try
        {
            await UpgradeAsClientAsync(ssl, address, timeout.Token);
        }
        catch
        {
            await ssl.DisposeAsync();
            throw;
        }

        return new PeerConnection(WebSocket.CreateFromStream(ssl, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero }), ssl, proven, remote, dialled: true);
    }

    /// <summary>Accepts a connection that TCP delivered: TLS, then the WebSocket upgrade at <c>/p2p</c> (anything else: 404).</summary>
    public async Task<PeerConnection> AcceptAsync(Socket socket, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(HandshakeTimeout);
        var remote = (IPEndPoint)socket.RemoteEndPoint!;
        // Small frames (the upgrade answer, then the hello) must not wait for Nagle's algorithm and a delayed ACK.
        socket.NoDelay = true;
        var (ssl, proven) = await AuthenticateAsServerAsync(socket, timeout.Token);
        try
        {
            await UpgradeAsServerAsync(ssl, timeout.Token);
        }
        catch
        {
            await ssl.DisposeAsync();
            throw;
        }

        return new PeerConnection(WebSocket.CreateFromStream(ssl, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero }), ssl, proven, remote, dialled: false);
    }

    private static async Task UpgradeAsClientAsync(Stream stream, PeerAddress address, CancellationToken cancellationToken)
    {
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var request = $"GET {Path} HTTP/1.1\r\nHost: {address.Endpoint}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), cancellationToken);
        await stream.FlushAsync(cancellationToken);
        var (status, headers) = await ReadHeadAsync(stream, cancellationToken);
        if (!status.StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
        {
            throw new PeerLinkException($"the peer refused the WebSocket upgrade at {Path}: {status}");
        }

        if (!headers.TryGetValue("sec-websocket-accept", out var accept) || accept != AcceptKey(key))
        {
            throw new PeerLinkException("the peer answered the WebSocket upgrade with a wrong Sec-WebSocket-Accept", P2pRejection.Malformed);
        }
    }

    private static async Task UpgradeAsServerAsync(Stream stream, CancellationToken cancellationToken)
    {
        var (requestLine, headers) = await ReadHeadAsync(stream, cancellationToken);
        var parts = requestLine.Split(' ');
        string? refusal = null;
        if (parts.Length != 3 || parts[0] != "GET" || parts[1] != Path)
        {
            refusal = "404 Not Found";
        }
        else if (!headers.TryGetValue("upgrade", out var upgrade) || !upgrade.Equals("websocket", StringComparison.OrdinalIgnoreCase)
            || !headers.TryGetValue("sec-websocket-key", out _))
        {
            refusal = "400 Bad Request";
        }

        if (refusal is not null)
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {refusal}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), cancellationToken);
            await stream.FlushAsync(cancellationToken);
            throw new PeerLinkException($"a peer asked for '{requestLine}' instead of a WebSocket at {Path}", P2pRejection.Malformed);
        }

        var response = $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {AcceptKey(headers["sec-websocket-key"])}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(response), cancellationToken);
        await stream.FlushAsync(cancellationToken);
    }

    /// <summary>Reads an HTTP head byte by byte (nothing after it is consumed: WebSocket frames may follow).</summary>
    private static async Task<(string FirstLine, Dictionary<string, string> Headers)> ReadHeadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var bytes = new List<byte>(512);
        var one = new byte[1];
        while (bytes.Count < 4 || bytes[^1] != '\n' || bytes[^2] != '\r' || bytes[^3] != '\n' || bytes[^4] != '\r')
        {
            if (bytes.Count >= MaxHeaderBytes)
            {
                throw new PeerLinkException($"the HTTP head is longer than {MaxHeaderBytes} bytes", P2pRejection.Oversized);
            }

            if (await stream.ReadAsync(one, cancellationToken) == 0)
            {
                throw new PeerLinkException("the peer closed the connection during the WebSocket upgrade");
            }

            bytes.Add(one[0]);
        }

        var lines = Encoding.ASCII.GetString([.. bytes]).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
            }
        }

        return (lines.Length > 0 ? lines[0] : string.Empty, headers);
    }

    // RFC 6455 fixes SHA-1 for Sec-WebSocket-Accept; it proves the server read the upgrade, it protects nothing.
#pragma warning disable CA5350
    private static string AcceptKey(string key) =>
        Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
}
