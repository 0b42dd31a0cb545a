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
/// <remarks>Thread-safe: <see cref="Send"/> may be called from any thread; one receive loop reads the socket.</remarks>
internal sealed class DhtUdpTransport : IDhtTransport, IDisposable
{
    /// <summary>Datagrams one sender (address and port) may send per second, with a burst of twice as many.</summary>
    internal const int DatagramsPerSecond = 200;

    private readonly Socket _socket;
    private readonly NodeIdentity _identity;
    private readonly ReplayGuard _guard;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, (double Tokens, long At)> _budgets = new(StringComparer.Ordinal);

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

    /// <summary>Reads datagrams until <paramref name="stoppingToken"/> is cancelled.</summary>
    public async Task ReceiveLoopAsync(CancellationToken stoppingToken)
    {
        var buffer = new byte[DhtWire.MaxDatagram + 1];
        EndPoint any = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!stoppingToken.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                // An ICMP error of an earlier send surfaces here on some systems; the socket still works.
                continue;
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            var from = Format((IPEndPoint)received.RemoteEndPoint);
            if (!TakeToken(from))
            {
                Rejected?.Invoke(new P2pRefusal(P2pRejection.Flood, $"more than {DatagramsPerSecond} datagrams a second from one sender"), from);
                continue;
            }

            var message = DhtWire.Decode(buffer.AsSpan(0, received.ReceivedBytes), _guard, out var refusal);
            if (message is null)
            {
                Rejected?.Invoke(refusal!, from);
                continue;
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
    }

    public void Dispose() => _socket.Dispose();

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
