using System.Net;
using System.Net.NetworkInformation;
using Microsoft.AspNetCore.Mvc;
using Tenzro.Node.Api;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Hosting;

namespace Tenzro.Node.Security;

/// <summary>
/// Refuses (403) what a web page could send from the user's browser: a request addressed to a name that is not
/// the node's own (DNS rebinding) and a request of another site (Origin or Sec-Fetch-Site). <c>/health*</c> is
/// exempt from both, and a request with a valid key or the admin token from the Host check (a rebinding page
/// cannot supply one). Own names: localhost, 127.0.0.1, [::1], HOST, PUBLIC_HOSTNAMES and, with HOST 0.0.0.0 or
/// ::, every address of the machine's interfaces.
/// </summary>
/// <remarks>Runs after authentication, before the static files and the endpoints.</remarks>
internal sealed class RequestGuard(HttpOptions http, SecurityOptions security, SecurityEvents events, TimeProvider time)
{
    private static readonly TimeSpan InterfaceRefresh = TimeSpan.FromSeconds(30);
    private readonly HashSet<string> _names = OwnNames(http, security);
    private readonly bool _wildcard = http.Host is "0.0.0.0" or "::" or "[::]";
    private readonly Lock _lock = new();
    private HashSet<string> _interfaces = new(StringComparer.OrdinalIgnoreCase);
    private DateTimeOffset _interfacesAt = DateTimeOffset.MinValue;

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (context.Request.Path.StartsWithSegments("/health"))
        {
            await next(context);
            return;
        }

        var host = context.Request.Host.Host;
        if (!Caller.HasKey(context.User) && host.Length > 0 && !IsOwnName(host))
        {
            await RefuseAsync(context, "Host not local",
                $"The request is addressed to '{host}', which is not a name of this node. Address it to 127.0.0.1, [::1], localhost or HOST, add the name to PUBLIC_HOSTNAMES, or send an API key.");
            return;
        }

        var fetchSite = context.Request.Headers["Sec-Fetch-Site"].ToString();
        var origin = context.Request.Headers.Origin.ToString();
        if (fetchSite is "cross-site" or "same-site" || (origin.Length > 0 && !SameOrigin(origin, context.Request)))
        {
            await RefuseAsync(context, "Cross-site request",
                $"A web page of another site ({(origin.Length > 0 ? origin : "unknown origin")}) may not call this node. Use the command line (tenzro-node), the node's own dashboard, or a client that sends no Origin.");
            return;
        }

        await next(context);
    }

    private async Task RefuseAsync(HttpContext context, string title, string detail)
    {
        events.Refused(403, title, Caller.Describe(context), $"{context.Request.Method} {context.Request.Path}");
        await HttpSetup.WriteProblemAsync(context, new ProblemDetails { Status = 403, Title = title, Detail = detail });
    }

    private bool IsOwnName(string host)
    {
        var name = host.Trim('[', ']').ToLowerInvariant();
        if (_names.Contains(name) || (IPAddress.TryParse(name, out var address) && IPAddress.IsLoopback(address)))
        {
            return true;
        }

        return _wildcard && Interfaces().Contains(name);
    }

    private HashSet<string> Interfaces()
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (now - _interfacesAt > InterfaceRefresh)
            {
                _interfaces = new HashSet<string>(
                    NetworkInterface.GetAllNetworkInterfaces()
                        .SelectMany(i => i.GetIPProperties().UnicastAddresses)
                        .Select(a => new IPAddress(a.Address.GetAddressBytes()).ToString()),
                    StringComparer.OrdinalIgnoreCase);
                _interfacesAt = now;
            }

            return _interfaces;
        }
    }

    private static HashSet<string> OwnNames(HttpOptions http, SecurityOptions security)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "localhost", "127.0.0.1", "::1", http.Host.Trim('[', ']') };
        names.UnionWith(security.PublicHostnames.Select(h => h.Trim('[', ']')));
        return names;
    }

    private static bool SameOrigin(string origin, HttpRequest request) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var uri)
        && uri.Scheme.Equals(request.Scheme, StringComparison.OrdinalIgnoreCase)
        && uri.Authority.Equals(request.Host.Value, StringComparison.OrdinalIgnoreCase);
}
