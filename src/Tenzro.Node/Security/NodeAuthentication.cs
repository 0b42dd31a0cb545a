using System.Net;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Security;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Security;

/// <summary>
/// The node's authentication scheme: <c>Authorization: Bearer</c> with an API key (its role) or, from loopback,
/// the admin token (admin); else the dashboard's session cookie (<see cref="DashboardSessions"/>); a keyless
/// loopback request is the anonymous submitter unless
/// REQUIRE_AUTH_ON_LOOPBACK is set. A bearer that is neither fails authentication, so it gets 401 even where
/// a keyless caller would be let in: a wrong key is never quietly downgraded.
/// </summary>
internal sealed class NodeAuthentication(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyStore keys,
    AdminToken adminToken,
    DashboardSessions sessions,
    SecurityOptions security)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "tenzro";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var loopback = Context.Connection.RemoteIpAddress is { } remote && IPAddress.IsLoopback(remote);
        var bearer = Bearer(Request);
        if (bearer is null && sessions.Find(Request) is { } session)
        {
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(session, SchemeName)));
        }

        if (bearer is null)
        {
            return Task.FromResult(loopback && !security.RequireAuthOnLoopback
                ? Success(NodeRole.Submitter, TaskOwners.AnonymousLoopback, CallerVia.Loopback, null)
                : AuthenticateResult.NoResult());
        }

        // The admin token first: a bare bearer is also tried as the bare API_KEY below.
        if (ApiKeyFormat.TryParse(bearer, out var id, out var secret) || (!adminToken.Matches(bearer) && ApiKeyFormat.TryParseBare(bearer, out id, out secret)))
        {
            return Task.FromResult(keys.Check(id, secret, out var key) switch
            {
                ApiKeyCheck.Valid => Success(NodeClaims.Parse(key!.Role) ?? NodeRole.Reader, id, CallerVia.Key, id),
                ApiKeyCheck.Revoked => AuthenticateResult.Fail($"API key {id} was revoked. Ask the node's admin for a new key ('tenzro-node keys create')."),
                ApiKeyCheck.Expired => AuthenticateResult.Fail($"API key {id} has expired. Ask the node's admin for a new key, or rotate it ('tenzro-node keys rotate {id}')."),
                _ => AuthenticateResult.Fail("The API key is not known to this node. Check the key, or make one with 'tenzro-node keys create --role submitter' on the node's machine."),
            });
        }

        if (adminToken.Matches(bearer))
        {
            return Task.FromResult(loopback
                ? Success(NodeRole.Admin, TaskOwners.AdminToken, CallerVia.AdminToken, null)
                : AuthenticateResult.Fail("The admin token is accepted from the node's own machine (loopback) only; from elsewhere use an API key."));
        }

        return Task.FromResult(AuthenticateResult.Fail("The bearer is neither an API key (tnz_<id>_<secret>) nor, from loopback, the admin token of DATA_DIR/admin.token."));
    }

    /// <summary>The bearer of the Authorization header, or null when there is none.</summary>
    public static string? Bearer(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.Length > 7 ? header[7..].Trim() : null;
    }

    private static AuthenticateResult Success(NodeRole role, string owner, string via, string? keyId) =>
        AuthenticateResult.Success(new AuthenticationTicket(NodeClaims.Principal(role, owner, via, keyId), SchemeName));
}
