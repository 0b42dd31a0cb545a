using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Tenzro.Node.Networking.Lan;

/// <summary>
/// A network interface LAN discovery may use: up, not loopback, with at least one address. <see cref="Problem"/> says
/// why it cannot carry multicast (then no group is joined on it and the reason is reported).
/// </summary>
internal sealed record LanInterface(string Name, int Index, IReadOnlyList<IPAddress> V4, IReadOnlyList<IPAddress> V6, string? Problem)
{
    public IReadOnlyList<IPAddress> Addresses => [.. V4, .. V6];

    /// <summary>Same name, index and addresses: nothing to re-announce.</summary>
    public bool SameAs(LanInterface other) =>
        Name == other.Name && Index == other.Index && V4.SequenceEqual(other.V4) && V6.SequenceEqual(other.V6) && Problem == other.Problem;

    /// <summary>Every interface that is up and not loopback, with its IPv4 and IPv6 unicast addresses.</summary>
    public static IReadOnlyList<LanInterface> Scan()
    {
        var found = new List<LanInterface>();
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.NetworkInterfaceType == NetworkInterfaceType.Loopback || nic.OperationalStatus is not (OperationalStatus.Up or OperationalStatus.Unknown))
            {
                continue;
            }

            IPInterfaceProperties properties;
            try
            {
                properties = nic.GetIPProperties();
            }
            catch (NetworkInformationException)
            {
                continue;
            }

            var addresses = properties.UnicastAddresses.Select(a => a.Address).Where(a => !IPAddress.IsLoopback(a)).ToList();
            var v4 = addresses.Where(a => a.AddressFamily == AddressFamily.InterNetwork).ToList();
            var v6 = addresses.Where(a => a.AddressFamily == AddressFamily.InterNetworkV6).ToList();
            if (v4.Count == 0 && v6.Count == 0)
            {
                continue;
            }

            var index = IndexOf(properties);
            string? problem = null;
            if (!nic.SupportsMulticast)
            {
                problem = $"multicast is off on {nic.Name} (no MULTICAST flag, so no multicast route; turn it on with: ip link set dev {nic.Name} multicast on)";
            }
            else if (index <= 0)
            {
                problem = $"{nic.Name} has no interface index";
            }

            found.Add(new LanInterface(nic.Name, index, v4, v6, problem));
        }

        return found;
    }

    private static int IndexOf(IPInterfaceProperties properties)
    {
        try
        {
            return properties.GetIPv4Properties()?.Index ?? properties.GetIPv6Properties()?.Index ?? 0;
        }
        catch (NetworkInformationException)
        {
            try
            {
                return properties.GetIPv6Properties()?.Index ?? 0;
            }
            catch (NetworkInformationException)
            {
                return 0;
            }
        }
    }
}
