using Microsoft.Extensions.Diagnostics.HealthChecks;
using Tenzro.Node.Core.Regional;

namespace Tenzro.Node.Networking.Regional;

/// <summary>DI registration of the regional link.</summary>
internal static class RegionalServices
{
    /// <summary>
    /// The outbox, the earnings ledger, the task intake, the transport, the link and its <c>regional</c> health
    /// check. Call after <c>AddTaskEngine</c>: hosted services stop in reverse order, so the link sends
    /// <c>leave</c> before the engine stops.
    /// </summary>
    public static IServiceCollection AddRegionalLink(this IServiceCollection services)
    {
        services.AddSingleton<RegionalOutbox>();
        services.AddSingleton<EarningsLedger>();
        services.AddSingleton<RegionalLinkTimings>();
        services.AddSingleton<IRegionalTransport, WebSocketRegionalTransport>();
        services.AddSingleton<RegionalFinishedTasks>();
        services.AddSingleton<RegionalTaskIntake>();
        services.AddHostedService(sp => sp.GetRequiredService<RegionalTaskIntake>());
        services.AddSingleton<RegionalLink>();
        services.AddHostedService(sp => sp.GetRequiredService<RegionalLink>());
        services.AddSingleton<IRegionalLinkStatus>(sp => sp.GetRequiredService<RegionalLink>());
        services.AddHealthChecks().AddCheck<RegionalHealthCheck>("regional");
        return services;
    }
}

/// <summary>
/// The <c>regional</c> entry of <c>/health</c>: healthy when joined, connecting or standalone; degraded when the
/// link has failed (the node still serves local work, so it is never unhealthy for this).
/// </summary>
internal sealed class RegionalHealthCheck(IRegionalLinkStatus link) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var snapshot = link.Snapshot();
        var result = snapshot.State switch
        {
            RegionalLinkState.Disabled => HealthCheckResult.Healthy("standalone: no regional node configured"),
            RegionalLinkState.Joined => HealthCheckResult.Healthy($"joined {snapshot.Url}"),
            RegionalLinkState.Connecting => HealthCheckResult.Healthy(
                snapshot.Reason is null ? $"connecting to {snapshot.Url}" : $"connecting to {snapshot.Url} (last attempt: {snapshot.Reason})"),
            _ => HealthCheckResult.Degraded(snapshot.ConsecutiveFailures > 0
                ? $"regional link failed {snapshot.ConsecutiveFailures} times in a row, still retrying: {snapshot.Reason}"
                : $"regional link cannot be used: {snapshot.Reason}"),
        };
        return Task.FromResult(result);
    }
}
