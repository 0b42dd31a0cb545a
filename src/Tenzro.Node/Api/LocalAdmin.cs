using System.Net;

namespace Tenzro.Node.Api;

/// <summary>
/// The rule of the admin endpoints (reset the regional link, release reservations, measure bandwidth):
/// the caller is on this machine, addresses it by a loopback name, and is not a web page of another site.
/// The last two stop a page open in the user's browser from driving the node, by a plain cross-site POST or
/// by rebinding its own name to 127.0.0.1.
/// </summary>
internal static class LocalAdmin
{
    /// <summary>Null when the request may act; else the 403 to answer, saying why and what to do instead.</summary>
    /// <param name="action">What the endpoint does, for the message ("Resetting the regional link is an admin action").</param>
    public static IResult? Refusal(HttpContext context, string action)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Connection.RemoteIpAddress is not { } remote || !IPAddress.IsLoopback(remote))
        {
            return HttpSetup.Problem(403, "Loopback only", $"{action}: call it from the node's own machine (127.0.0.1).");
        }

        var host = context.Request.Host.Host;
        if (!IsLoopbackName(host))
        {
            return HttpSetup.Problem(403, "Host not local",
                $"The request is addressed to '{host}'. {action}: address it to 127.0.0.1, [::1] or localhost.");
        }

        var fetchSite = context.Request.Headers["Sec-Fetch-Site"].ToString();
        var origin = context.Request.Headers.Origin.ToString();
        if (fetchSite is "cross-site" or "same-site" || (origin.Length > 0 && !SameOrigin(origin, context.Request)))
        {
            return HttpSetup.Problem(403, "Cross-site request",
                $"A web page of another site ({(origin.Length > 0 ? origin : "unknown origin")}) asked for an admin action. {action}: use the command line (tenzro-node) or the node's own dashboard.");
        }

        return null;
    }

    private static bool IsLoopbackName(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    private static bool SameOrigin(string origin, HttpRequest request) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var uri)
        && uri.Scheme.Equals(request.Scheme, StringComparison.OrdinalIgnoreCase)
        && uri.Authority.Equals(request.Host.Value, StringComparison.OrdinalIgnoreCase);
}
