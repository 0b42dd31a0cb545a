using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Security;
using Tenzro.Node.Hosting;

namespace Tenzro.Node.Security;

/// <summary>Registration and middleware of access control (CONTRACTS.md "Access control").</summary>
internal static class SecurityServices
{
    /// <summary>The scheme, the role policies, the rate limiter, the key store and the admin token (only registered: <see cref="UseNodeSecurity"/> writes the token).</summary>
    public static IServiceCollection AddNodeSecurity(this IServiceCollection services, NodeSettings settings)
    {
        services.AddSingleton(_ => AdminToken.Create(settings.Storage.DataDirectory));
        if (settings.Http.TlsCertificatePath is { } certificate && settings.Http.TlsKeyPath is { } key)
        {
            services.AddSingleton(sp => new TlsCertificate(certificate, key, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<TlsCertificate>>()));
        }

        services.AddSingleton<ApiKeyStore>();
        services.AddSingleton<RequestGuard>();
        services.AddSingleton<DashboardSessions>();
        services.AddAuthentication(NodeAuthentication.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, NodeAuthentication>(NodeAuthentication.SchemeName, null);
        services.AddAuthorization(NodePolicies.Add);
        // AddAuthentication brings ASP.NET Core's data protection, whose hosted service reads (or makes) a key ring at
        // start. The node's scheme protects nothing with it (no cookies, no tokens), so the ring is not loaded at start;
        // anything that ever asks for a protector still gets one, with the ring read then.
        foreach (var keyRingAtStart in services.Where(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType?.Name == "DataProtectionHostedService").ToList())
        {
            services.Remove(keyRingAtStart);
        }
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, ProblemAuthorizationResultHandler>();
        services.AddNodeRateLimiting(settings.Quotas);
        return services;
    }

    /// <summary>
    /// Authentication, then the Host and Origin guard (before anything is served, static files included),
    /// then the caller's role against the endpoint's policy, then the rate limiter, then the audit of admin actions.
    /// </summary>
    /// <param name="staticFiles">Adds the dashboard's static files, which every role may read.</param>
    public static WebApplication UseNodeSecurity(this WebApplication app, Action<WebApplication> staticFiles)
    {
        var settings = app.Services.GetRequiredService<NodeSettings>();
        if (!NodeSettings.IsLoopbackHost(settings.Http.Host) && !app.Services.GetRequiredService<ApiKeyStore>().AnyActive)
        {
            throw new Cli.StartupRequirementException(
                $"HOST is {settings.Http.Host}, which other machines can reach, but the node has no API key, so anyone could drive it. " +
                "Set API_KEY to an admin key of the form tnz_<id>_<secret> (for example API_KEY=tnz_admin_$(openssl rand -hex 24)), " +
                "or API_KEYS=role:key,... ; or start it with HOST=127.0.0.1 and run 'tenzro-node keys create --role admin'.");
        }

        // The start-up gate of access control: the admin token is written and the HTTPS certificate read
        // before the node listens.
        app.Services.GetRequiredService<AdminToken>();
        try
        {
            app.Services.GetService<TlsCertificate>()?.LoadNow();
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException)
        {
            throw new Cli.StartupRequirementException(
                $"TLS_CERT_PATH ({settings.Http.TlsCertificatePath}) and TLS_KEY_PATH ({settings.Http.TlsKeyPath}) must be a PEM certificate and its PEM private key: {e.Message}");
        }

        var guard = app.Services.GetRequiredService<RequestGuard>();
        app.UseAuthentication();
        app.Use(guard.InvokeAsync);
        app.Use(app.Services.GetRequiredService<DashboardSessions>().SetOnDashboardAsync);
        staticFiles(app);
        app.UseAuthorization();
        app.UseRateLimiter();
        app.Use(AuditAsync);
        return app;
    }

    /// <summary>Writes every request to an admin-only endpoint, other than a read, to the audit log once it is answered.</summary>
    private static async Task AuditAsync(HttpContext context, RequestDelegate next)
    {
        var admin = context.GetEndpoint()?.Metadata.GetOrderedMetadata<IAuthorizeData>().Any(a => a.Policy == NodePolicies.Admin) == true;
        if (!admin || HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method))
        {
            await next(context);
            return;
        }

        try
        {
            await next(context);
        }
        finally
        {
            var actor = context.User.FindFirst(NodeClaims.KeyId)?.Value ?? context.User.OwnerOf() ?? "unknown";
            await context.RequestServices.GetRequiredService<ApiKeyStore>()
                .AuditAsync(actor, $"{context.Request.Method} {context.Request.Path}", context.Connection.RemoteIpAddress?.ToString(), context.Response.StatusCode);
        }
    }
}
