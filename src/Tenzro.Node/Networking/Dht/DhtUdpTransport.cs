using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Dht;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Networking.Dht;

/// <summary>
/// The DHT's UDP socket on P2P_HOST:LOCAL_DISCOVERY_PORT: sends each message as signed datagrams (split when a reply
/// does not fit 1,200 bytes) and hands verified datagrams to the node. Oversized, malformed, unsigned, stale or
/// replayed datagrams and a flood from one sender are dropped and reported through <see cref="Rejected"/>.
/// </summary>
/// <remarks>Thread-safe: <see cref="Send"/> may be called from any thread; one receive thread reads the socket.</remarks>
internal sealed class DhtUdpTransport : IDhtTransport, IDisposable
{
    /// <summary>Datagrams one sender (address and port) may send per second, with a burst of twice as many.</summary>
    internal const int DatagramsPerSecond = 200;

    private readonly Socket _socket;
    private readonly NodeIdentity _identity;
    private readonly ReplayGuard _guard;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, (double Tokens, long At)> _budgets = new(StringComparer.Ordinal);
    private volatile bool _disposed;

    private DhtUdpTransport(Socket socket, NodeIdentity identity, TimeProvider time)
    {
        _socket = socket;
        _identity = identity;
        _time = time;
        _guard = new ReplayGuard(time);
        Port = ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public int Port { get; }

    /// <summary>Set before <see cref="ReceiveLoopAsync"/> starts: where verified messages go.</summary>
    public Action<string, DhtMessage>? Received { get; set; }

    /// <summary>A datagram was dropped: the refusal and the sender's <c>host:port</c>.</summary>
    public event Action<P2pRefusal, string>? Rejected;

    /// <summary>Binds the UDP socket.</summary>
    /// <exception cref="SocketException">The port cannot be bound.</exception>
    public static DhtUdpTransport Bind(string host, int port, NodeIdentity identity, TimeProvider time)
    {
        var address = IPAddress.Parse(host);
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (address.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = true;
            }

            socket.Bind(new IPEndPoint(address, port));
            return new DhtUdpTransport(socket, identity, time);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Send(string endpoint, DhtMessage message)
    {
        if (Parse(endpoint) is not { } target)
        {
            return;
        }

        foreach (var datagram in DhtWire.Encode(message, _identity, _guard))
        {
            try
            {
                _socket.SendTo(datagram, SocketFlags.None, target);
            }
            catch (SocketException)
            {
                // UDP: a datagram that cannot leave is a datagram lost; the request's timeout handles it.
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Reads datagrams until <paramref name="stoppingToken"/> is cancelled (or the transport is disposed), on a thread of
    /// its own that blocks in the socket's receive: each datagram wakes that one thread, which checks it and hands it to
    /// <see cref="Received"/>, whose replies leave from the same thread, where an asynchronous receive would wake the
    /// runtime's socket thread and then a thread-pool thread for every datagram. A flood occupies this thread only, not
    /// the thread pool that serves the API.
    /// </summary>
    public Task ReceiveLoopAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => ReceiveLoop(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void ReceiveLoop(CancellationToken stoppingToken)
    {
        Thread.CurrentThread.Name = "DHT receive";

        // Disposing the socket ends a receive that is blocked in the kernel.
        using var stop = stoppingToken.Register(_socket.Dispose);
        var buffer = new byte[DhtWire.MaxDatagram + 1];
        EndPoint any = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!stoppingToken.IsCancellationRequested)
        {
            int length;
            var sender = any;
            try
            {
                length = _socket.ReceiveFrom(buffer, SocketFlags.None, ref sender);
            }
            catch (SocketException) when (!stoppingToken.IsCancellationRequested && !_disposed)
            {
                // An ICMP error of an earlier send surfaces here on some systems; the socket still works.
                continue;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }

            Handle(buffer.AsSpan(0, length), Format((IPEndPoint)sender));
        }
    }

    private void Handle(ReadOnlySpan<byte> datagram, string from)
    {
        if (!TakeToken(from))
        {
            Rejected?.Invoke(new P2pRefusal(P2pRejection.Flood, $"more than {DatagramsPerSecond} datagrams a second from one sender"), from);
            return;
        }

        var message = DhtWire.Decode(datagram, _guard, out var refusal);
        if (message is null)
        {
            Rejected?.Invoke(refusal!, from);
            return;
        }

        try
        {
            Received?.Invoke(from, message);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Rejected?.Invoke(new P2pRefusal(P2pRejection.Malformed, "handling the datagram failed: " + e.Message), from);
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _socket.Dispose();
    }

    /// <summary>The <c>host:port</c> form of an address, IPv4-mapped addresses as IPv4.</summary>
    public static string Format(IPEndPoint endpoint)
    {
        var address = endpoint.Address.IsIPv4MappedToIPv6 ? endpoint.Address.MapToIPv4() : endpoint.Address;
        return new DnsEndPointText(address.ToString(), endpoint.Port).ToString();
    }

    private IPEndPoint? Parse(string endpoint)
    {
        if (!IPEndPoint.TryParse(endpoint, out var parsed) || parsed.Port == 0)
        {
            return null;
        }

        if (_socket.AddressFamily == AddressFamily.InterNetworkV6 && parsed.AddressFamily == AddressFamily.InterNetwork)
        {
            return new IPEndPoint(parsed.Address.MapToIPv6(), parsed.Port);
        }

        return parsed.AddressFamily == _socket.AddressFamily ? parsed : null;
    }

    private bool TakeToken(string from)
    {
        var now = _time.GetTimestamp();
        if (_budgets.Count > 50_000)
        {
            _budgets.Clear();
        }

        var (tokens, at) = _budgets.GetValueOrDefault(from, (DatagramsPerSecond * 2.0, now));
        tokens = Math.Min(DatagramsPerSecond * 2.0, tokens + (_time.GetElapsedTime(at, now).TotalSeconds * DatagramsPerSecond));
        _budgets[from] = (Math.Max(0, tokens - 1), now);
        return tokens >= 1;
    }
}
