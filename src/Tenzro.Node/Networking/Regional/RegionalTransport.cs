using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using Tenzro.Node.Core.Regional;

namespace Tenzro.Node.Networking.Regional;

/// <summary>What <see cref="IRegionalConnection.ReceiveAsync"/> got.</summary>
internal enum RegionalFrameKind
{
    /// <summary>A complete UTF-8 text message, its bytes in <see cref="RegionalFrame.Utf8"/>.</summary>
    Text,

    /// <summary>A binary message, or text that is not valid UTF-8: the protocol has no use for it.</summary>
    Unreadable,

    /// <summary>A message over MAX_MESSAGE_SIZE; it was read to its end and discarded.</summary>
    TooLarge,

    /// <summary>The link is closed; <see cref="RegionalFrame.Text"/> says why.</summary>
    Closed,

    /// <summary>
    /// The link went silent: a keep-alive ping went unanswered for REGIONAL_KEEPALIVE_TIMEOUT, or a send did not
    /// finish, and the socket was aborted. Unlike <see cref="Closed"/> (a close, or a reset, which is noticed at
    /// once), what was sent in the last keep-alive window may never have been read by the regional node.
    /// </summary>
    Silent,
}

/// <summary>One received message: a text message's bytes (parsed from them, never copied into a string), or why the link closed.</summary>
internal readonly record struct RegionalFrame(RegionalFrameKind Kind, string? Text, long Size, byte[]? Utf8 = null);

/// <summary>Opens links to a regional node. The boundary between the link's protocol logic and the network.</summary>
internal interface IRegionalTransport
{
    /// <summary>Why this transport cannot open links as configured (e.g. an unreadable REGIONAL_CA_CERT), or null.</summary>
    string? SetupError { get; }

    /// <summary>Opens a link to <paramref name="url"/>.</summary>
    /// <exception cref="WebSocketException">The link could not be opened (refused, TLS, HTTP upgrade).</exception>
    Task<IRegionalConnection> ConnectAsync(Uri url, CancellationToken cancellationToken);
}

/// <summary>An open link to a regional node.</summary>
/// <remarks>
/// <see cref="SendAsync"/> may be called concurrently (sends are serialized); <see cref="ReceiveAsync"/> has one
/// caller at a time.
/// </remarks>
internal interface IRegionalConnection : IAsyncDisposable
{
    Task SendAsync(string text, CancellationToken cancellationToken);

    /// <summary>Reads the next message; a closed or broken link is a <see cref="RegionalFrameKind.Closed"/> frame, never an exception.</summary>
    Task<RegionalFrame> ReceiveAsync(CancellationToken cancellationToken);

    /// <summary>Closes the link with a normal closure; safe to call on a link that is already closed.</summary>
    Task CloseAsync(string reason, CancellationToken cancellationToken);
}

/// <summary>
/// The WebSocket transport (<see cref="ClientWebSocket"/>): no subprotocol, no compression; wss:// checked by
/// <see cref="RegionalTrust"/>. Pings from the regional node are answered by the WebSocket layer itself.
/// </summary>
internal sealed class WebSocketRegionalTransport : IRegionalTransport, IDisposable
{
    /// <summary>How long a small message may take to send before the link counts as dead; a large one gets one second more per 16 KiB.</summary>
    public static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The time allowed to send <paramref name="bytes"/> bytes (a 16 MB result gets about 17 minutes).</summary>
    public static TimeSpan SendTimeoutFor(int bytes) => SendTimeout + TimeSpan.FromSeconds(bytes / 16384.0);

    private readonly RegionalTrust? _trust;
    private readonly long _maxMessageSize;
    private readonly TimeSpan _keepAliveTimeout;
    private long _bytesSent;
    private long _bytesReceived;

    /// <summary>Bytes of WebSocket payload sent to the regional node since start, over every connection.</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    /// <summary>Bytes of WebSocket payload received from the regional node since start.</summary>
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    public WebSocketRegionalTransport(Core.Configuration.NetworkOptions network)
    {
        _maxMessageSize = network.MaxMessageSize;
        _keepAliveTimeout = network.RegionalKeepAliveTimeout;
        try
        {
            _trust = RegionalTrust.Load(network.RegionalCaCertificate);
        }
        catch (RegionalLinkException e)
        {
            SetupError = e.Message;
        }
    }

    public string? SetupError { get; }

    public async Task<IRegionalConnection> ConnectAsync(Uri url, CancellationToken cancellationToken)
    {
        if (_trust is null)
        {
            throw new RegionalLinkException(SetupError!);
        }

        var trust = _trust;
        var maxMessageSize = _maxMessageSize;
        var socket = new ClientWebSocket();
        try
        {
            if (url.Scheme == "wss")
            {
                socket.Options.RemoteCertificateValidationCallback = trust.Validate;
            }

            // A ping every third of REGIONAL_KEEPALIVE_TIMEOUT (30 s of 90 s by default) that must be answered
            // within it: a link that died without a close (a NAT that forgot it, a cable pulled, a black hole) is
            // noticed and redialled instead of swallowing messages. Pongs are read only while a receive is
            // pending, and the session pauses reading while its inbound queue is full, so the default is far
            // longer than any such pause.
            socket.Options.KeepAliveInterval = _keepAliveTimeout / 3;
            socket.Options.KeepAliveTimeout = _keepAliveTimeout;
            await socket.ConnectAsync(url, cancellationToken);
            return new WebSocketConnection(socket, maxMessageSize, _keepAliveTimeout, this);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose() => _trust?.Dispose();

    private sealed class WebSocketConnection(ClientWebSocket socket, long maxMessageSize, TimeSpan keepAliveTimeout, WebSocketRegionalTransport owner) : IRegionalConnection
    {
        private const int ChunkSize = 16 * 1024;
        private readonly SemaphoreSlim _sendLock = new(1, 1);

        public async Task SendAsync(string text, CancellationToken cancellationToken)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            await _sendLock.WaitAsync(cancellationToken);
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var allowed = SendTimeoutFor(bytes.Length);
                timeout.CancelAfter(allowed);
                try
                {
                    await socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // A send that cannot complete means the link is gone: drop it so that the node redials.
                    socket.Abort();
                    throw new WebSocketException(WebSocketError.ConnectionClosedPrematurely, $"a message of {bytes.Length} bytes could not be sent within {allowed.TotalSeconds:F0} s");
                }

                Interlocked.Add(ref owner._bytesSent, bytes.Length);
            }
            finally
            {
                _sendLock.Release();
            }
        }

        public async Task<RegionalFrame> ReceiveAsync(CancellationToken cancellationToken)
        {
            var chunk = ArrayPool<byte>.Shared.Rent(ChunkSize);
            var message = new ArrayBufferWriter<byte>(ChunkSize);
            try
            {
                long size = 0;
                var tooLarge = false;
                while (true)
                {
                    ValueWebSocketReceiveResult result;
                    try
                    {
                        result = await socket.ReceiveAsync(chunk.AsMemory(), cancellationToken);
                    }
                    catch (WebSocketException e)
                    {
                        return new RegionalFrame(RegionalFrameKind.Closed, $"the link broke: {e.Message}", size);
                    }
                    catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                    {
                        return new RegionalFrame(RegionalFrameKind.Closed, "the link was closed by this node", size);
                    }
                    catch (OperationCanceledException e)
                    {
                        // The socket was aborted under the read, not by this node: the keep-alive found no pong within
                        // REGIONAL_KEEPALIVE_TIMEOUT, or a send did not finish in time. (The keep-alive's own exception
                        // is not always attached yet when the read ends, so its absence says nothing.)
                        var why = e.InnerException?.Message ?? $"no answer to a keep-alive ping within {keepAliveTimeout.TotalSeconds:0.#} s, or a send that did not finish";
                        return new RegionalFrame(RegionalFrameKind.Silent, $"the link went silent: {why}", size);
                    }
                    catch (Exception e) when (e is IOException or ObjectDisposedException)
                    {
                        // The socket failed under the read.
                        return new RegionalFrame(RegionalFrameKind.Closed, $"the link broke: {e.Message}", size);
                    }

                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        var status = socket.CloseStatus is { } code ? $" ({(int)code} {socket.CloseStatusDescription})" : string.Empty;
                        return new RegionalFrame(RegionalFrameKind.Closed, "the regional node closed the link" + status, size);
                    }

                    size += result.Count;
                    Interlocked.Add(ref owner._bytesReceived, result.Count);
                    if (!tooLarge && size > maxMessageSize)
                    {
                        // Read the rest and drop it, so that one oversized message costs no memory and the link stays usable.
                        tooLarge = true;
                        message.Clear();
                    }

                    if (!tooLarge)
                    {
                        message.Write(chunk.AsSpan(0, result.Count));
                    }

                    if (!result.EndOfMessage)
                    {
                        continue;
                    }

                    if (tooLarge)
                    {
                        return new RegionalFrame(RegionalFrameKind.TooLarge, null, size);
                    }

                    if (result.MessageType != WebSocketMessageType.Text)
                    {
                        return new RegionalFrame(RegionalFrameKind.Unreadable, null, size);
                    }

                    return System.Text.Unicode.Utf8.IsValid(message.WrittenSpan)
                        ? new RegionalFrame(RegionalFrameKind.Text, null, size, message.WrittenSpan.ToArray())
                        : new RegionalFrame(RegionalFrameKind.Unreadable, null, size);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }
        }

        public async Task CloseAsync(string reason, CancellationToken cancellationToken)
        {
            if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
            {
                return;
            }

            try
            {
                // Close the output only: the regional node keeps sockets open after some messages, and
                // waiting for its close frame would hold up shutdown.
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, reason, cancellationToken);
            }
            catch (WebSocketException)
            {
                // Already broken: nothing left to close.
            }
        }

        public async ValueTask DisposeAsync()
        {
            using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
            {
                try
                {
                    await CloseAsync("closing", timeout.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }

            socket.Dispose();
            _sendLock.Dispose();
        }
    }
}
