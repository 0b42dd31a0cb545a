using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Tenzro.Node.Hosting;

/// <summary>
/// The background health evaluation (every HEALTH_CHECK_INTERVAL): keeps the latest report and logs each
/// change of a component's status once, naming the component and why, instead of on every evaluation.
/// </summary>
internal sealed partial class HealthStatusPublisher(ILogger<HealthStatusPublisher> logger) : IHealthCheckPublisher
{
    private readonly Dictionary<string, HealthStatus> _last = new(StringComparer.Ordinal);

    public HealthReport? Latest { get; private set; }

    public Task PublishAsync(HealthReport report, CancellationToken cancellationToken)
    {
        Latest = report;
        lock (_last)
        {
            foreach (var (name, entry) in report.Entries)
            {
                if (_last.TryGetValue(name, out var previous) ? previous != entry.Status : entry.Status != HealthStatus.Healthy)
                {
                    if (entry.Status == HealthStatus.Healthy)
                    {
                        LogRecovered(logger, name, entry.Description ?? string.Empty);
                    }
                    else
                    {
                        LogDegraded(logger, name, entry.Status.ToString().ToLowerInvariant(), entry.Description ?? string.Empty);
                    }
                }

                _last[name] = entry.Status;
            }
        }

        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = LogEvents.HealthChanged, Level = LogLevel.Warning, Message = "Health check {Check} is {Status}: {Detail}")]
    private static partial void LogDegraded(ILogger logger, string check, string status, string detail);

    [LoggerMessage(EventId = LogEvents.HealthRecovered, Level = LogLevel.Information, Message = "Health check {Check} recovered: {Detail}")]
    private static partial void LogRecovered(ILogger logger, string check, string detail);
}
