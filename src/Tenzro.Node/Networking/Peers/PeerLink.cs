using System.Buffers;
using System.Buffers.Text;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Networking.Peers;

/// <summary>Time limits and quotas of peer links (CONTRACTS "Peer links"); the time limits come from the PEER_* settings.</summary>
internal sealed record PeerLinkTimings
{
    /// <summary>The time limits set by PEER_PING_INTERVAL, PEER_DEAD_LINK_TIMEOUT and PEER_HELLO_TIMEOUT.</summary>
    public static PeerLinkTimings From(Core.Configuration.NetworkOptions network) => new()
    {
        PingInterval = network.PeerPingInterval,
        DeadAfter = network.PeerDeadLinkTimeout,
        HelloTimeout = network.PeerHelloTimeout,
    };

    /// <summary>A ping goes out this often on every open link.</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>A link on which nothing arrived for this long is dead.</summary>
    public TimeSpan DeadAfter { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>TCP, TLS and the WebSocket upgrade must finish within this time, then the hello within it again.</summary>
    public TimeSpan HelloTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Messages a peer may send per second before it is cut off as a flood.</summary>
    public int MessagesPerSecond { get; init; } = 200;

    /// <summary>Bytes a peer may send per second before it is cut off as a flood.</summary>
    public long BytesPerSecond { get; init; } = 16L * 1024 * 1024;
}

/// <summary>
/// One open link to a peer: the signed hello exchange, then typed JSON messages (one per WebSocket frame) handed to
/// a dispatcher, pings with round-trip times, the dead-link timeout and per-peer quotas.
/// </summary>
/// <remarks>
/// Thread-safe: <see cref="SendAsync"/> may be called from any thread (one writer at a time). Lifecycle:
/// <see cref="HandshakeAsync"/> once, then <see cref="RunAsync"/> once; <see cref="Completion"/> ends when the link
/// is closed for any reason, with that reason in <see cref="CloseReason"/>.
/// </remarks>
internal sealed class PeerLink : IAsyncDisposable
{
    public const int MaxFrameBeforeHello = 64 * 1024;
    public const int MaxFrameAfterHello = 1024 * 1024;
    private const int ReceiveBufferSize = 4096;
    // A pong echoes the ping's id as it was written; longer ids go the general way.
    private const int MaxFastId = 32;
    private static readonly byte[] PingPrefix = "{\"type\":\"ping\",\"id\":"u8.ToArray();
    private static readonly byte[] PongPrefix = "{\"type\":\"pong\",\"id\":"u8.ToArray();

    private readonly PeerConnection _connection;
    private readonly PeerLinkTimings _timings;
    private readonly TimeProvider _time;
    private readonly PeerMetrics _metrics;
    private readonly SemaphoreSlim _writer = new(1, 1);
    private readonly CancellationTokenSource _closed = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();
    private readonly Dictionary<long, long> _pendingPings = [];
    // Only the receive loop uses these two (one frame at a time): the frame being received, and the pong answering it.
    private ArrayBufferWriter<byte> _frame = new(ReceiveBufferSize);
    private readonly byte[] _pong = new byte[PongPrefix.Length + MaxFastId + 1];
    private long _oldestPendingPing = 1;
    private readonly Queue<double> _recentRtts = new();
    private long _lastHeard;
    private long _nextPing;
    private long _windowStart;
    private int _windowMessages;
    private long _windowBytes;

    public PeerLink(PeerConnection connection, PeerLinkTimings timings, TimeProvider time, PeerMetrics metrics)
    {
        _connection = connection;
        _timings = timings;
        _time = time;
        _metrics = metrics;
        _lastHeard = time.GetTimestamp();
        _windowStart = _lastHeard;
    }

    public string PeerId => _connection.ProvenId;

    public bool Dialled => _connection.Dialled;

    public System.Net.IPEndPoint Remote => _connection.Remote;

    /// <summary>The peer's record from its hello; null before the handshake.</summary>
    public NodeRecord? Record { get; private set; }

    /// <summary>The last round trip: the hello exchange, then each ping.</summary>
    public double RttMs { get; private set; }

    /// <summary>The median of the last five round trips (what eligibility uses).</summary>
    public double MedianRttMs
    {
        get
        {
            lock (_lock)
            {
                var sorted = _recentRtts.Order().ToArray();
                return sorted.Length == 0 ? RttMs : sorted[sorted.Length / 2];
            }
        }
    }

    public DateTimeOffset LastHeard => _time.GetUtcNow() - _time.GetElapsedTime(Interlocked.Read(ref _lastHeard));

    public Task Completion => _completion.Task;

    /// <summary>Why the link ended (for <c>lastError</c>); null while it is open.</summary>
    public string? CloseReason { get; private set; }

    /// <summary>The refusal reason label when the peer was cut off for misbehaving.</summary>
    public string? CutOffReason { get; private set; }

    /// <summary>
    /// Sends <paramref name="hello"/> and checks the peer's: its record (signature, id, expiry), the record's key being
    /// the one the certificate proved, the hello's signature, freshness and nonce, and the protocol major version.
    /// </summary>
    /// <exception cref="PeerLinkException">The peer's hello was refused; the link is closed with the reason.</exception>
    public async Task<NodeRecord> HandshakeAsync(JsonObject hello, ReplayGuard guard, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timings.HelloTimeout);
        var started = _time.GetTimestamp();
        await SendAsync(hello, timeout.Token);
        JsonObject? message;
        try
        {
            message = await ReceiveMessageAsync(MaxFrameBeforeHello, timeout.Token);
        }
        catch (PeerLinkException e) when (e.Reason is not null)
        {
            // Oversized, malformed or flooding before the hello: counted where it was found; tell the peer why.
            await CloseAsync($"{e.Reason}: {e.Message}", e.Reason == P2pRejection.Oversized ? WebSocketCloseStatus.MessageTooBig : WebSocketCloseStatus.PolicyViolation);
            throw;
        }

        if (message is null)
        {
            throw new PeerLinkException("the peer closed the link before its hello: " + (_connection.Socket.CloseStatusDescription ?? "no reason given"));
        }

        RttMs = Math.Round(_time.GetElapsedTime(started).TotalMilliseconds, 3);
        NoteRtt(RttMs);
        _metrics.Message(Type(message), "in");

        P2pRefusal? refusal;
        if (Type(message) != "hello")
        {
            refusal = new P2pRefusal(P2pRejection.Malformed, $"the first message was '{Type(message)}', not hello");
        }
        else if (NodeRecord.Read(message["record"], _time.GetUtcNow(), out refusal) is { } record)
        {
            if (!record.PublicKey.AsSpan().SequenceEqual(_connection.ProvenKey))
            {
                refusal = new P2pRefusal(P2pRejection.Certificate, $"the hello carries the record of {NodeRecord.Short(record.Id)}, not of the key {NodeRecord.Short(PeerId)} that the certificate proved");
            }
            else if ((refusal = guard.Check(message, SignatureDomain.PeerHello, record.PublicKey)) is null && record.ProtocolMajor != NodeRecord.Major(NodeRecord.ProtocolVersion))
            {
                refusal = new P2pRefusal(P2pRejection.Version, $"refused version: the peer speaks protocol {record.Content.Protocol}, this node {NodeRecord.ProtocolVersion}");
            }

            if (refusal is null)
            {
                Record = record;
                return record;
            }
        }

        _metrics.Rejected(refusal!.Reason);
        await CloseAsync(refusal.ToString(), WebSocketCloseStatus.PolicyViolation);
        throw new PeerLinkException(refusal.Detail, refusal.Reason);
    }

    /// <summary>Receives until the link ends, answering pings and handing other messages to <paramref name="dispatch"/>; pings the peer meanwhile.</summary>
    public async Task RunAsync(Func<PeerLink, string, JsonObject, CancellationToken, ValueTask<bool>> dispatch, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closed.Token);
        var pinger = PingLoopAsync(linked.Token);
        try
        {
            while (!linked.IsCancellationRequested)
            {
                if (!await ReceiveFrameAsync(MaxFrameAfterHello, linked.Token))
                {
                    End("the peer closed the link" + (_connection.Socket.CloseStatusDescription is { Length: > 0 } why ? ": " + why : string.Empty));
                    break;
                }

                // Pings and pongs, the most frequent frames, are answered without building a JsonObject.
                if (await TryAnswerControlAsync(linked.Token))
                {
                    continue;
                }

                var message = ParseFrame();
                var type = Type(message);
                _metrics.Message(type, "in");
                switch (type)
                {
                    case "ping":
                        await SendAsync(new JsonObject { ["type"] = "pong", ["id"] = message["id"]?.DeepClone() }, linked.Token);
                        break;
                    case "pong":
                        NotePong(message);
                        break;
                    default:
                        if (!await dispatch(this, type, message, linked.Token))
                        {
                            _metrics.Rejected(P2pRejection.Unexpected);
                        }

                        break;
                }
            }
        }
        catch (PeerLinkException e) when (e.Reason is not null)
        {
            CutOffReason = e.Reason;
            await CloseAsync($"{e.Reason}: {e.Message}", e.Reason == P2pRejection.Oversized ? WebSocketCloseStatus.MessageTooBig : WebSocketCloseStatus.PolicyViolation);
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException or PeerLinkException)
        {
            End(_closed.IsCancellationRequested ? CloseReason ?? "closed" : cancellationToken.IsCancellationRequested ? "the node is stopping" : "link lost: " + e.Message);
        }
        finally
        {
            await _closed.CancelAsync();
            await pinger;
            End("closed");
        }
    }

    /// <summary>Sends one message as one text frame.</summary>
    public ValueTask SendAsync(JsonObject message, CancellationToken cancellationToken) =>
        SendFrameAsync(JsonSerializer.SerializeToUtf8Bytes(message), Type(message), cancellationToken);

    /// <summary>Sends one serialized message of type <paramref name="type"/> as one text frame.</summary>
    private async ValueTask SendFrameAsync(ReadOnlyMemory<byte> frame, string type, CancellationToken cancellationToken)
    {
        await _writer.WaitAsync(cancellationToken);
        try
        {
            await _connection.Socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
        }
        finally
        {
            _writer.Release();
        }

        _metrics.Message(type, "out");
    }

    /// <summary>Closes the link with <paramref name="reason"/> (sent to the peer as the close description).</summary>
    public async Task CloseAsync(string reason, WebSocketCloseStatus status = WebSocketCloseStatus.NormalClosure)
    {
        CloseReason ??= reason;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            var description = reason.Length > 120 ? reason[..120] : reason;
            if (_connection.Socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await _connection.Socket.CloseOutputAsync(status, description, timeout.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException)
        {
            // The peer is gone already; the link ends either way.
        }

        _connection.Socket.Abort();
        try
        {
            await _closed.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
            // The link was disposed meanwhile: it has ended already.
        }

        End(reason);
    }

    public async ValueTask DisposeAsync()
    {
        await _closed.CancelAsync();
        await _connection.DisposeAsync();
        End("closed");
        _closed.Dispose();
        _writer.Dispose();
    }

    /// <summary>A signed hello carrying <paramref name="record"/>, stamped with a fresh timestamp and nonce by <paramref name="guard"/>.</summary>
    public static JsonObject Hello(NodeRecord record, ReplayGuard guard, NodeIdentity identity) =>
        guard.StampAndSign(new JsonObject { ["type"] = "hello", ["record"] = record.Json.DeepClone() }, SignatureDomain.PeerHello, identity);

    /// <summary>The <c>type</c> member of a message, or an empty string.</summary>
    public static string Type(JsonObject message) =>
        message["type"] is JsonValue value && value.TryGetValue<string>(out var type) ? type : string.Empty;

    private void End(string reason)
    {
        CloseReason ??= reason;
        _completion.TrySetResult();
    }

    private async Task<JsonObject?> ReceiveMessageAsync(int limit, CancellationToken cancellationToken) =>
        await ReceiveFrameAsync(limit, cancellationToken) ? ParseFrame() : null;

    /// <summary>Receives one whole frame into <see cref="_frame"/>, checking its size and the quota; false when the peer closed.</summary>
    private async ValueTask<bool> ReceiveFrameAsync(int limit, CancellationToken cancellationToken)
    {
        if (_frame.Capacity > MaxFrameBeforeHello)
        {
            // A large frame's buffer is not kept for the link's lifetime.
            _frame = new ArrayBufferWriter<byte>(ReceiveBufferSize);
        }

        _frame.ResetWrittenCount();
        while (true)
        {
            var memory = _frame.GetMemory(ReceiveBufferSize);
            var result = await _connection.Socket.ReceiveAsync(memory, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return false;
            }

            _frame.Advance(result.Count);
            if (_frame.WrittenCount > limit)
            {
                _metrics.Rejected(P2pRejection.Oversized);
                throw new PeerLinkException($"a frame is larger than {limit} bytes", P2pRejection.Oversized);
            }

            if (result.EndOfMessage)
            {
                break;
            }
        }

        Interlocked.Exchange(ref _lastHeard, _time.GetTimestamp());
        CheckQuota(_frame.WrittenCount);
        return true;
    }

    private JsonObject ParseFrame()
    {
        try
        {
            if (JsonNode.Parse(_frame.WrittenSpan) is JsonObject message && Type(message).Length > 0)
            {
                return message;
            }
        }
        catch (JsonException)
        {
            // Counted and refused below.
        }

        _metrics.Rejected(P2pRejection.Malformed);
        throw new PeerLinkException("a frame is not a JSON object with a type", P2pRejection.Malformed);
    }

    /// <summary>
    /// Answers the received frame when it is a ping or a pong with a numeric id: a ping with a pong echoing the id as
    /// written, a pong by timing its ping. Anything else (other types, other ids, repeated members, invalid JSON) is
    /// left to the general path, which refuses what is malformed.
    /// </summary>
    private async ValueTask<bool> TryAnswerControlAsync(CancellationToken cancellationToken)
    {
        if (!TryReadControl(_frame.WrittenSpan, out var ping, out var idStart, out var idLength))
        {
            return false;
        }

        if (!ping)
        {
            _metrics.Message("pong", "in");
            if (Utf8Parser.TryParse(_frame.WrittenSpan.Slice(idStart, idLength), out long id, out var consumed) && consumed == idLength)
            {
                NotePong(id);
            }

            return true;
        }

        _metrics.Message("ping", "in");
        PongPrefix.CopyTo(_pong, 0);
        _frame.WrittenSpan.Slice(idStart, idLength).CopyTo(_pong.AsSpan(PongPrefix.Length));
        var length = PongPrefix.Length + idLength;
        _pong[length++] = (byte)'}';
        await SendFrameAsync(_pong.AsMemory(0, length), "pong", cancellationToken);
        return true;
    }

    /// <summary>Reads a frame shaped <c>{"type":"ping"|"pong","id":number}</c> (members in any order, nothing else).</summary>
    private static bool TryReadControl(ReadOnlySpan<byte> frame, out bool ping, out int idStart, out int idLength)
    {
        (ping, idStart, idLength) = (false, -1, 0);
        var typeSeen = false;
        var reader = new Utf8JsonReader(frame);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8) && !typeSeen)
                {
                    if (!reader.Read() || reader.TokenType != JsonTokenType.String)
                    {
                        return false;
                    }

                    ping = reader.ValueTextEquals("ping"u8);
                    if (!ping && !reader.ValueTextEquals("pong"u8))
                    {
                        return false;
                    }

                    typeSeen = true;
                }
                else if (reader.ValueTextEquals("id"u8) && idStart < 0)
                {
                    if (!reader.Read() || reader.TokenType != JsonTokenType.Number || reader.ValueSpan.Length > MaxFastId)
                    {
                        return false;
                    }

                    (idStart, idLength) = ((int)reader.TokenStartIndex, reader.ValueSpan.Length);
                }
                else
                {
                    return false;
                }
            }

            // The object must end here, with nothing after it.
            return reader.TokenType == JsonTokenType.EndObject && typeSeen && idStart >= 0 && !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private void CheckQuota(int bytes)
    {
        var now = _time.GetTimestamp();
        if (_time.GetElapsedTime(_windowStart, now) >= TimeSpan.FromSeconds(1))
        {
            (_windowStart, _windowMessages, _windowBytes) = (now, 0, 0);
        }

        _windowMessages++;
        _windowBytes += bytes;
        if (_windowMessages > _timings.MessagesPerSecond || _windowBytes > _timings.BytesPerSecond)
        {
            _metrics.Rejected(P2pRejection.Flood);
            throw new PeerLinkException($"more than {_timings.MessagesPerSecond} messages or {_timings.BytesPerSecond} bytes in a second", P2pRejection.Flood);
        }
    }

    private async Task PingLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            var tick = TimeSpan.FromMilliseconds(Math.Min(_timings.PingInterval.TotalMilliseconds, _timings.DeadAfter.TotalMilliseconds / 3));
            var sinceLastPing = _time.GetTimestamp();
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(tick, _time, cancellationToken);
                if (_time.GetElapsedTime(Interlocked.Read(ref _lastHeard)) > _timings.DeadAfter)
                {
                    await CloseAsync($"link dead: nothing heard for {_timings.DeadAfter.TotalSeconds:0.###} s", WebSocketCloseStatus.PolicyViolation);
                    return;
                }

                if (_time.GetElapsedTime(sinceLastPing) >= _timings.PingInterval)
                {
                    sinceLastPing = _time.GetTimestamp();
                    await PingWithinAsync(_timings.DeadAfter, cancellationToken);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException)
        {
            // The receive loop ends the link and says why.
        }
    }

    /// <summary>
    /// Sends a ping, closing the link as dead when the send does not finish within <paramref name="limit"/> (a path
    /// that drops packets once the send buffer is full): the dead-link timeout must not wait on a stuck send.
    /// </summary>
    private async Task PingWithinAsync(TimeSpan limit, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limit);
        try
        {
            await PingAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await CloseAsync($"link dead: a ping could not be sent for {limit.TotalSeconds:0.###} s", WebSocketCloseStatus.PolicyViolation);
        }
    }

    /// <summary>Sends a ping; the pong updates <see cref="RttMs"/>.</summary>
    public async ValueTask PingAsync(CancellationToken cancellationToken)
    {
        long id;
        lock (_lock)
        {
            id = ++_nextPing;
            _pendingPings[id] = _time.GetTimestamp();
            // Ids are consecutive: the ones more than eight behind are given up.
            for (; _oldestPendingPing < id - 8; _oldestPendingPing++)
            {
                _pendingPings.Remove(_oldestPendingPing);
            }
        }

        var frame = ArrayPool<byte>.Shared.Rent(PingPrefix.Length + 21);
        try
        {
            PingPrefix.CopyTo(frame, 0);
            Utf8Formatter.TryFormat(id, frame.AsSpan(PingPrefix.Length), out var written);
            var length = PingPrefix.Length + written;
            frame[length++] = (byte)'}';
            await SendFrameAsync(frame.AsMemory(0, length), "ping", cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    /// <summary>Completes when the next pong arrives; used by the benchmark and diagnostics to time one round trip.</summary>
    public event Action<double>? PongReceived;

    private void NotePong(JsonObject message)
    {
        if (message["id"] is JsonValue value && value.TryGetValue<long>(out var id))
        {
            NotePong(id);
        }
    }

    private void NotePong(long id)
    {
        long sent;
        lock (_lock)
        {
            if (!_pendingPings.Remove(id, out sent))
            {
                return;
            }
        }

        RttMs = Math.Round(_time.GetElapsedTime(sent).TotalMilliseconds, 3);
        NoteRtt(RttMs);
        PongReceived?.Invoke(RttMs);
    }

    private void NoteRtt(double rtt)
    {
        lock (_lock)
        {
            _recentRtts.Enqueue(rtt);
            while (_recentRtts.Count > 5)
            {
                _recentRtts.Dequeue();
            }
        }
    }
}
