using Microsoft.Extensions.Diagnostics.HealthChecks;
using Tenzro.Node.Core.Dht;

namespace Tenzro.Node.Networking.Dht;

/// <summary>DI registration of the DHT.</summary>
internal static class DhtServices
{
    /// <summary>The saved routing table, the metrics, the DHT service and its <c>dht</c> health check. Call after <c>AddPeerLinks</c>.</summary>
    public static IServiceCollection AddDht(this IServiceCollection services)
    {
        services.AddSingleton<DhtContactStore>();
        services.AddSingleton<DhtMetrics>();
        services.AddSingleton<DhtService>();
        services.AddHostedService(sp => sp.GetRequiredService<DhtService>());
        services.AddSingleton<IDhtStatus>(sp => sp.GetRequiredService<DhtService>());
        services.AddHealthChecks().AddCheck<DhtHealthCheck>("dht");
        return services;
    }
}

/// <summary>The <c>dht</c> entry of <c>/health</c>: degraded with the reason when the DHT port cannot be bound.</summary>
internal sealed class DhtHealthCheck(IDhtStatus dht) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(dht.Error is { } error
            ? HealthCheckResult.Degraded(error)
            : HealthCheckResult.Healthy(dht.Enabled ? $"{dht.State} on port {dht.Port}/udp, {dht.RoutingTableSize} contacts ({dht.StaleContacts} not answering), {dht.Records} records" : "off (DHT_ENABLED=false)"));
}
