using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;

namespace Tenzro.Node.Security;

/// <summary>
/// The dashboard's sessions: an HttpOnly, SameSite=Strict cookie naming a random session that stands for a
/// caller. <c>GET /</c> from loopback sets it for the anonymous loopback role; elsewhere the dashboard sends a
/// key once to <c>POST /api/session</c>, which sets it for that key's role. Sessions live in memory for
/// <see cref="Lifetime"/>, at most <see cref="MaxSessions"/> at once (the oldest go first); a restart ends them.
/// A session never exempts a request from the Host and Origin checks.
/// </summary>
/// <remarks>Thread-safe.</remarks>
internal sealed class DashboardSessions(TimeProvider time)
{
    public const string CookieName = "tenzro_session";
    public const int MaxSessions = 1000;
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);

    private readonly ConcurrentDictionary<string, (ClaimsPrincipal User, DateTimeOffset Expires)> _sessions = new(StringComparer.Ordinal);

    /// <summary>The caller a session cookie stands for; null when there is none or it has ended.</summary>
    public ClaimsPrincipal? Find(HttpRequest request)
    {
        if (!request.Cookies.TryGetValue(CookieName, out var id) || !_sessions.TryGetValue(id, out var session))
        {
            return null;
        }

        if (session.Expires <= time.GetUtcNow())
        {
            _sessions.TryRemove(id, out _);
            return null;
        }

        return session.User;
    }

    /// <summary>Starts a session for <paramref name="user"/> (as a session caller) and sets its cookie on the response.</summary>
    public void Start(HttpContext context, ClaimsPrincipal user)
    {
        var now = time.GetUtcNow();
        if (_sessions.Count >= MaxSessions)
        {
            foreach (var (oldId, _) in _sessions.OrderBy(s => s.Value.Expires).Take(_sessions.Count - MaxSessions + 1))
            {
                _sessions.TryRemove(oldId, out _);
            }
        }

        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var session = NodeClaims.Principal(user.RoleOf(), user.OwnerOf() ?? Core.Tasks.TaskOwners.AnonymousLoopback, CallerVia.Session, user.FindFirst(NodeClaims.KeyId)?.Value);
        _sessions[id] = (session, now + Lifetime);
        context.Response.Cookies.Append(CookieName, id, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
            MaxAge = Lifetime,
        });
    }

    /// <summary>Middleware before the static files: <c>GET /</c> from loopback, without a session, gets one for the anonymous loopback role.</summary>
    public Task SetOnDashboardAsync(HttpContext context, RequestDelegate next)
    {
        if (HttpMethods.IsGet(context.Request.Method) && context.Request.Path.Value is "/" or "/index.html"
            && context.User.ViaOf() == CallerVia.Loopback && Find(context.Request) is null)
        {
            Start(context, context.User);
        }

        return next(context);
    }
}
