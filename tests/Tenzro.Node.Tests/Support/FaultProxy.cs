using System.Net;
using System.Net.Sockets;

namespace Tenzro.Node.Tests.Support;

/// <summary>
/// A TCP proxy on a free 127.0.0.1 port in front of another loopback port, that injects link faults: it delays
/// every chunk it forwards, truncates the next chunk a client sends (part of a frame, then a reset), resets every
/// open connection, refuses new ones with a reset, or black-holes them (accepts, reads, forwards nothing).
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(TcpClient Client, TcpClient? Upstream)> _open = [];
    private readonly Lock _lock = new();
    private readonly Task _accepting;
    private int _truncateNext = -1;
    private int _accepted;

    private FaultProxy(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        _accepting = AcceptLoopAsync();
    }

    /// <summary>What the proxy does with a connection.</summary>
    public enum Fault
    {
        /// <summary>Forwards both ways, after <see cref="Delay"/>.</summary>
        None,

        /// <summary>Resets each new connection as soon as it is accepted.</summary>
        Refuse,

        /// <summary>
        /// Reads what either side sends and forwards nothing, a close or a reset included (the way a path that drops
        /// every packet behaves); new connections never reach the target. A connection that was black-holed stays
        /// so after the mode is lifted, as behind a NAT that forgot it: TCP never loses bytes from the middle of a
        /// stream that goes on, so the ends must notice the dead connection and open a new one.
        /// </summary>
        BlackHole,
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The proxy's address as a WebSocket URL.</summary>
    public Uri WebSocketUrl => new($"ws://127.0.0.1:{Port}");

    public Fault Mode { get; set; }

    /// <summary>How long each chunk waits before it is forwarded.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    public static FaultProxy Start(int targetPort) => new(targetPort);

    /// <summary>The next chunk a client sends is forwarded only up to <paramref name="bytes"/> bytes; then its connection is reset.</summary>
    public void TruncateNext(int bytes) => Volatile.Write(ref _truncateNext, bytes);

    /// <summary>Resets (RST) every open connection on both sides.</summary>
    public void ResetAll()
    {
        List<(TcpClient Client, TcpClient? Upstream)> open;
        lock (_lock)
        {
            open = [.. _open];
            _open.Clear();
        }

        foreach (var (client, upstream) in open)
        {
            Reset(client);
            if (upstream is not null)
            {
                Reset(upstream);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        ResetAll();
        try
        {
            await _accepting;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        if (Mode == Fault.Refuse)
        {
            Reset(client);
            return;
        }

        if (Mode == Fault.BlackHole)
        {
            Track(client, null);
            await DrainAsync(client.GetStream());
            return;
        }

        var upstream = new TcpClient();
        try
        {
            await upstream.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException)
        {
            Reset(client);
            upstream.Dispose();
            return;
        }

        Track(client, upstream);
        var path = new PathState();
        var toTarget = PumpAsync(client, upstream, path, truncates: true);
        var toClient = PumpAsync(upstream, client, path, truncates: false);
        var ended = await Task.WhenAny(toTarget, toClient);
        if (path.Dead || Mode == Fault.BlackHole)
        {
            // A black hole passes nothing on, a close or a reset included: the other side hears nothing until its
            // own connection ends, or the path is back and what it sends meets the closed one.
            await (ended == toTarget ? toClient : toTarget);
        }

        lock (_lock)
        {
            _open.Remove((client, upstream));
        }

        Reset(client);
        Reset(upstream);
    }

    private async Task PumpAsync(TcpClient from, TcpClient to, PathState path, bool truncates)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            var source = from.GetStream();
            var sink = to.GetStream();
            while (true)
            {
                var read = await source.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    return;
                }

                if (path.Dead || Mode == Fault.BlackHole)
                {
                    path.Dead = true;
                    continue;
                }

                if (Delay > TimeSpan.Zero)
                {
                    await Task.Delay(Delay, _stop.Token);
                }

                var truncate = truncates ? Interlocked.Exchange(ref _truncateNext, -1) : -1;
                if (truncate >= 0)
                {
                    await sink.WriteAsync(buffer.AsMemory(0, Math.Min(truncate, read)), _stop.Token);
                    await sink.FlushAsync(_stop.Token);
                    return;
                }

                await sink.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
        }
    }

    /// <summary>One proxied connection's path: dead once it was black-holed.</summary>
    private sealed class PathState
    {
        public volatile bool Dead;
    }

    private async Task DrainAsync(NetworkStream stream)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (await stream.ReadAsync(buffer, _stop.Token) > 0)
            {
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private void Track(TcpClient client, TcpClient? upstream)
    {
        lock (_lock)
        {
            _open.Add((client, upstream));
        }
    }

    /// <summary>Closes with SO_LINGER 0, so the other side sees a reset rather than an orderly close.</summary>
    private static void Reset(TcpClient client)
    {
        try
        {
            // A client already reset (by ResetAll, then again as its connection ends) has no socket left.
            if (client.Client is { } socket)
            {
                socket.LingerState = new LingerOption(true, 0);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        client.Dispose();
    }
}
