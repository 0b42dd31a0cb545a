using System.Net;
using System.Net.Sockets;
using Tenzro.Node.Core.Lan;

namespace Tenzro.Node.Networking.Lan;

/// <summary>
/// One mDNS socket of one address family: bound to port 5353 on every address (shared with other responders on
/// the machine), joined to 224.0.0.251 or ff02::fb per interface, sending out of the interface it is told.
/// </summary>
/// <remarks>
/// Thread-safe: sends are serialised, because the outgoing interface is a socket option set before each send; a
/// single receive loop calls <see cref="ReceiveAsync"/>. Join and leave may be called from the scan loop.
/// </remarks>
internal sealed class LanSocket : IDisposable
{
    public const int MdnsPort = 5353;
    private static readonly IPAddress GroupV4 = IPAddress.Parse("224.0.0.251");
    private static readonly IPAddress GroupV6 = IPAddress.Parse("ff02::fb");
    private readonly Socket _socket;
    private readonly SemaphoreSlim _send = new(1, 1);
    private readonly byte[] _buffer = new byte[LanWire.MaxPacketBytes + 1];

    private LanSocket(Socket socket, AddressFamily family)
    {
        _socket = socket;
        Family = family;
    }

    public AddressFamily Family { get; }

    public bool IsV4 => Family == AddressFamily.InterNetwork;

    /// <summary>Binds the socket of <paramref name="family"/> to port <paramref name="port"/>.</summary>
    /// <exception cref="SocketException">The port cannot be bound or the family is not supported.</exception>
    public static LanSocket Open(AddressFamily family, int port = MdnsPort)
    {
        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (family == AddressFamily.InterNetwork)
            {
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.PacketInformation, true);
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, 255);
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, true);
                socket.Bind(new IPEndPoint(IPAddress.Any, port));
            }
            else
            {
                socket.DualMode = false;
                socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.PacketInformation, true);
                socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastTimeToLive, 255);
                socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastLoopback, true);
                socket.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new LanSocket(socket, family);
    }

    /// <summary>Joins the mDNS group on the interface with index <paramref name="index"/>.</summary>
    /// <exception cref="SocketException">The kernel refused the membership.</exception>
    public void Join(int index)
    {
        if (IsV4)
        {
            _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(GroupV4, index));
        }
        else
        {
            _socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.AddMembership, new IPv6MulticastOption(GroupV6, index));
        }
    }

    /// <summary>Leaves the group on an interface; an interface that is gone already is no error.</summary>
    public void Leave(int index)
    {
        try
        {
            if (IsV4)
            {
                _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.DropMembership, new MulticastOption(GroupV4, index));
            }
            else
            {
                _socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.DropMembership, new IPv6MulticastOption(GroupV6, index));
            }
        }
        catch (SocketException)
        {
            // The interface went away with its membership.
        }
    }

    /// <summary>Multicasts <paramref name="packet"/> out of the interface with index <paramref name="index"/>.</summary>
    /// <exception cref="SocketException">The kernel refused the send (no route, interface down).</exception>
    public async Task SendAsync(byte[] packet, int index, CancellationToken cancellationToken)
    {
        await _send.WaitAsync(cancellationToken);
        try
        {
            if (IsV4)
            {
                _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, IPAddress.HostToNetworkOrder(index));
                await _socket.SendToAsync(packet, SocketFlags.None, new IPEndPoint(GroupV4, MdnsPort), cancellationToken);
            }
            else
            {
                _socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastInterface, index);
                await _socket.SendToAsync(packet, SocketFlags.None, new IPEndPoint(new IPAddress(GroupV6.GetAddressBytes(), index), MdnsPort), cancellationToken);
            }
        }
        finally
        {
            _send.Release();
        }
    }

    /// <summary>Receives one datagram: a copy of its bytes (at most 9001, so a longer one shows as oversized), its source and the index of the interface it came in on.</summary>
    public async Task<(byte[] Packet, int Length, IPAddress Source, int Index)> ReceiveAsync(CancellationToken cancellationToken)
    {
        EndPoint any = IsV4 ? new IPEndPoint(IPAddress.Any, 0) : new IPEndPoint(IPAddress.IPv6Any, 0);
        var result = await _socket.ReceiveMessageFromAsync(_buffer, SocketFlags.None, any, cancellationToken);
        var length = result.ReceivedBytes + ((result.SocketFlags & SocketFlags.Truncated) != 0 ? 1 : 0);
        return (_buffer[..Math.Min(result.ReceivedBytes, _buffer.Length)], length, ((IPEndPoint)result.RemoteEndPoint).Address, result.PacketInformation.Interface);
    }

    public void Dispose()
    {
        _socket.Dispose();
        _send.Dispose();
    }
}
