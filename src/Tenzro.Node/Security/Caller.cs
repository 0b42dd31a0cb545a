using System.Net;
using System.Net.Sockets;
using System.Security.Claims;

namespace Tenzro.Node.Security;

/// <summary>
/// Who a request comes from, resolved once from what authentication found: the API key's id, else the remote
/// address with an IPv6 address grouped by its /64 (one host usually holds a whole /64). Quotas and the rate
/// limiter are kept per caller.
/// </summary>
internal static class Caller
{
    /// <summary>The quota key of the request's caller: <c>key:&lt;id&gt;</c>, else its address key.</summary>
    public static string Key(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.User.FindFirst(NodeClaims.KeyId)?.Value is { } id
            ? "key:" + id
            : context.Connection.RemoteIpAddress is { } remote ? AddressKey(remote) : "unknown";
    }

    /// <summary>Whether the request comes from this machine without a key (exempt from the limiter unless QUOTA_LOOPBACK).</summary>
    public static bool IsLoopback(HttpContext context) =>
        context.Connection.RemoteIpAddress is { } remote && IPAddress.IsLoopback(remote);

    /// <summary>For logs: the key id or token and the address; never a secret.</summary>
    public static string Describe(HttpContext context)
    {
        var address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        return context.User.FindFirst(NodeClaims.KeyId)?.Value is { } id ? $"key {id} at {address}"
            : context.User.ViaOf() == CallerVia.AdminToken ? $"admin token at {address}"
            : address;
    }

    /// <summary>The address a quota is kept for: IPv4 as is, IPv6 by its /64.</summary>
    public static string AddressKey(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    public static bool HasKey(ClaimsPrincipal user) => user.ViaOf() is CallerVia.Key or CallerVia.AdminToken;
}
