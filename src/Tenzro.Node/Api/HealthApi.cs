using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Api;

/// <summary>
/// <c>/health</c> (every component), <c>/health/live</c> (the process answers) and <c>/health/ready</c>
/// (store writable, intake open). Body: <c>{"status","checks":{name:{"status","detail"}}}</c>; 200 for
/// healthy and degraded, 503 for unhealthy.
/// </summary>
internal static class HealthApi
{
    public const string ReadyTag = "ready";

    public static IServiceCollection AddNodeHealth(this IServiceCollection services)
    {
        services.AddSingleton<StoreHealthCheck>();
        services.AddHealthChecks()
            .Add(new HealthCheckRegistration("store", sp => sp.GetRequiredService<StoreHealthCheck>(), HealthStatus.Unhealthy, [ReadyTag]))
            .AddCheck<TaskExecutorHealthCheck>("tasks")
            .AddCheck<IntakeHealthCheck>("intake", tags: [ReadyTag])
            .AddCheck<MemoryHealthCheck>("memory")
            .AddCheck<DiskHealthCheck>("disk");
        return services;
    }

    public static WebApplication MapHealthApi(this WebApplication app)
    {
        var codes = new Dictionary<HealthStatus, int>
        {
            [HealthStatus.Healthy] = StatusCodes.Status200OK,
            [HealthStatus.Degraded] = StatusCodes.Status200OK,
            [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
        };

        // "intake" only speaks for readiness: a draining node is alive and healthy, but not ready.
        app.MapHealthChecks("/health", new HealthCheckOptions { Predicate = c => c.Name != "intake", ResponseWriter = WriteAsync, ResultStatusCodes = codes });
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync, ResultStatusCodes = codes });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync, ResultStatusCodes = codes });
        return app;
    }

    private static async Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.BodyWriter);
        writer.WriteStartObject();
        writer.WriteString("status", Name(report.Status));
        writer.WriteStartObject("checks");
        foreach (var (name, entry) in report.Entries)
        {
            writer.WriteStartObject(name);
            writer.WriteString("status", Name(entry.Status));
            writer.WriteString("detail", entry.Description);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
    }

    private static string Name(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => "healthy",
        HealthStatus.Degraded => "degraded",
        _ => "unhealthy",
    };

    /// <summary>
    /// Proves the database is writable with a write that is rolled back. The probe takes SQLite's write
    /// lock, so its result is reused for HEALTH_CHECK_INTERVAL (the background evaluation refreshes it):
    /// a busy /health must not compete with task submissions for the writer.
    /// </summary>
    internal sealed class StoreHealthCheck(NodeDatabase database, Core.Configuration.MonitoringOptions options, TimeProvider time) : IHealthCheck
    {
        private readonly Lock _lock = new();
        private HealthCheckResult _last;
        private DateTimeOffset _checkedAt = DateTimeOffset.MinValue;

        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            lock (_lock)
            {
                var now = time.GetUtcNow();
                if (now - _checkedAt >= options.HealthCheckInterval)
                {
                    _last = Probe();
                    _checkedAt = now;
                }

                return Task.FromResult(_last);
            }
        }

        private HealthCheckResult Probe()
        {
            try
            {
                database.CheckWritable();
                return HealthCheckResult.Healthy($"{database.Path} is writable");
            }
            catch (Exception e)
            {
                return HealthCheckResult.Unhealthy($"{database.Path} is not writable: {e.Message}");
            }
        }
    }

    private sealed class TaskExecutorHealthCheck(TaskEngine engine) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(HealthCheckResult.Healthy($"{engine.RunningCount} running, {engine.QueuedCount} queued"));
    }

    private sealed class MemoryHealthCheck(ResourceSampler sampler, Core.Configuration.ResourceOptions options) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var used = sampler.Current.MemoryUsedPercent;
            var detail = $"{used:F1}% of memory in use (critical above {options.CriticalMemoryPercent}%)";
            return Task.FromResult(used > options.CriticalMemoryPercent ? HealthCheckResult.Degraded(detail) : HealthCheckResult.Healthy(detail));
        }
    }

    private sealed class DiskHealthCheck(ResourceSampler sampler, Core.Configuration.ResourceOptions options) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var used = sampler.Current.StorageUsedPercent;
            var detail = $"{used:F1}% of DATA_DIR's filesystem in use, {sampler.Current.StorageFreeBytes / (1024 * 1024)} MB free (critical above {options.CriticalStoragePercent}%)";
            return Task.FromResult(used > options.CriticalStoragePercent ? HealthCheckResult.Degraded(detail) : HealthCheckResult.Healthy(detail));
        }
    }

    private sealed class IntakeHealthCheck(IntakeState intake) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(intake.RefusalReason is { } reason
                ? HealthCheckResult.Unhealthy($"not taking tasks: {reason}")
                : HealthCheckResult.Healthy("taking tasks"));
    }
}
