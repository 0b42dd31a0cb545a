using Tenzro.Node.Core.Lan;

namespace Tenzro.Node.Networking.Lan;

/// <summary>DI registration of LAN discovery (after the peer links, which dial what it finds).</summary>
internal static class LanServices
{
    public static IServiceCollection AddLanDiscovery(this IServiceCollection services)
    {
        services.AddSingleton<LanMetrics>();
        services.AddSingleton<LanDiscoveryService>();
        services.AddHostedService(sp => sp.GetRequiredService<LanDiscoveryService>());
        services.AddSingleton<ILanDiscovery>(sp => sp.GetRequiredService<LanDiscoveryService>());
        return services;
    }
}
