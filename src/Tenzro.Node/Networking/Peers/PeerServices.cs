using Microsoft.Extensions.Diagnostics.HealthChecks;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Networking.Peers;

/// <summary>DI registration of peer links.</summary>
internal static class PeerServices
{
    /// <summary>The peer table, the transport, the link service and its <c>p2p</c> health check.</summary>
    public static IServiceCollection AddPeerLinks(this IServiceCollection services)
    {
        services.AddSingleton<PeerTable>();
        services.AddSingleton(sp => new PeerBlocklist(sp.GetRequiredService<Core.Configuration.StorageOptions>().DataDirectory));
        services.AddSingleton(sp => PeerLinkTimings.From(sp.GetRequiredService<Core.Configuration.NetworkOptions>()));
        services.AddSingleton<PeerMetrics>();
        services.AddSingleton(sp => new PeerTransport(sp.GetRequiredService<Core.Identity.NodeIdentity>(), sp.GetRequiredService<TimeProvider>())
        {
            HandshakeTimeout = sp.GetRequiredService<PeerLinkTimings>().HelloTimeout,
        });
        services.AddSingleton<PeerLinkService>();
        services.AddHostedService(sp => sp.GetRequiredService<PeerLinkService>());
        services.AddSingleton<IPeerLinks>(sp => sp.GetRequiredService<PeerLinkService>());
        services.AddHealthChecks().AddCheck<PeerHealthCheck>("p2p");
        return services;
    }
}

/// <summary>The <c>p2p</c> entry of <c>/health</c>: degraded with the reason when the peer-link port cannot be bound.</summary>
internal sealed class PeerHealthCheck(IPeerLinks links) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(links.ListenerError is { } error
            ? HealthCheckResult.Degraded(error)
            : HealthCheckResult.Healthy($"listening on port {links.Port}/tcp, {links.OpenLinks} of {links.MaxLinks} links open"));
}
