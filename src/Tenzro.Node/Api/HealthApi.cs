using System.Text.Json;
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
        services.AddSingleton<HealthReports>();
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
        // "intake" only speaks for readiness: a draining node is alive and healthy, but not ready.
        var reports = app.Services.GetRequiredService<HealthReports>();
        app.MapGet("/health", (HttpContext context) => ServeAsync(context, reports.GetAsync("all", c => c.Name != "intake", context.RequestAborted)))
            .AllowAnonymous().WithTags("Health").WithName("Health").WithSummary("Every component's health: 200 healthy or degraded, 503 unhealthy.");
        app.MapGet("/health/live", (HttpContext context) => ServeAsync(context, Task.FromResult(new HealthReport(new Dictionary<string, HealthReportEntry>(), TimeSpan.Zero))))
            .AllowAnonymous().WithTags("Health").WithName("Liveness").WithSummary("200 while the process runs.");
        app.MapGet("/health/ready", (HttpContext context) => ServeAsync(context, reports.GetAsync("ready", c => c.Tags.Contains(ReadyTag), context.RequestAborted)))
            .AllowAnonymous().WithTags("Health").WithName("Readiness").WithSummary("503 while the store is not writable, the node drains or is under pressure.");
        return app;
    }

    private static async Task ServeAsync(HttpContext context, Task<HealthReport> pending)
    {
        var report = await pending;
        context.Response.StatusCode = report.Status == HealthStatus.Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
        context.Response.Headers.CacheControl = "no-store";
        await WriteAsync(context, report);
    }

    /// <summary>
    /// The last report per view, recomputed when something it reads changes (intake opens or closes, a new
    /// resource sample) or after <see cref="MaxAge"/>: a busy /health costs one check run a second, not one
    /// per request, and never shows a state older than the change that ended it.
    /// </summary>
    /// <remarks>Thread-safe; concurrent requests may compute the same report twice, harmlessly.</remarks>
    internal sealed class HealthReports
    {
        public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);

        private readonly HealthCheckService _checks;
        private readonly TimeProvider _time;
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (HealthReport Report, long Version, DateTimeOffset At)> _cache = new(StringComparer.Ordinal);
        private long _version;

        public HealthReports(HealthCheckService checks, IntakeState intake, ResourceSampler sampler, TimeProvider time)
        {
            _checks = checks;
            _time = time;
            intake.Changed += Invalidate;
            sampler.Sampled += _ => Invalidate();
        }

        public void Invalidate() => Interlocked.Increment(ref _version);

        public async Task<HealthReport> GetAsync(string view, Func<HealthCheckRegistration, bool> predicate, CancellationToken cancellationToken)
        {
            var version = Interlocked.Read(ref _version);
            var now = _time.GetUtcNow();
            if (_cache.TryGetValue(view, out var cached) && cached.Version == version && now - cached.At < MaxAge)
            {
                return cached.Report;
            }

            var report = await _checks.CheckHealthAsync(predicate, cancellationToken);
            _cache[view] = (report, version, now);
            return report;
        }
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
    /// Proves the database is writable with a write that is rolled back, waiting at most
    /// <see cref="ProbeTimeout"/> for the write lock. The probe takes SQLite's write lock, so its result is
    /// reused for HEALTH_CHECK_INTERVAL (the background evaluation refreshes it): a busy /health must not
    /// compete with task submissions for the writer. While a probe runs, callers get the last result at
    /// once instead of waiting on a locked database.
    /// </summary>
    internal sealed class StoreHealthCheck(NodeDatabase database, Core.Configuration.MonitoringOptions options, TimeProvider time) : IHealthCheck
    {
        public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

        /// <summary>A probe still running this long after its own timeout is stuck (a hung filesystem): unhealthy.</summary>
        private static readonly TimeSpan StuckAfter = ProbeTimeout + TimeSpan.FromSeconds(5);

        private readonly Lock _lock = new();
        private Task<HealthCheckResult>? _probe;
        private HealthCheckResult? _last;
        private long _startedAt;

        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            Task<HealthCheckResult> probe;
            lock (_lock)
            {
                if (_probe is null || (_probe.IsCompleted && time.GetElapsedTime(_startedAt) >= options.HealthCheckInterval))
                {
                    // A thread of its own: the probe blocks for up to its timeout on a lock or a slow disk, and queued
                    // behind a busy thread pool it would start late and be taken for stuck.
                    _startedAt = time.GetTimestamp();
                    _probe = Task.Factory.StartNew(Probe, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
                }

                probe = _probe;
                var running = time.GetElapsedTime(_startedAt);
                if (!probe.IsCompleted && running >= StuckAfter)
                {
                    return HealthCheckResult.Unhealthy($"{database.Path}: the write probe has not finished after {running.TotalSeconds:F0} s");
                }

                if (!probe.IsCompleted && _last is { } last)
                {
                    return last;
                }
            }

            return await probe.WaitAsync(cancellationToken);
        }

        private HealthCheckResult Probe()
        {
            HealthCheckResult result;
            try
            {
                database.CheckWritable(ProbeTimeout);
                result = HealthCheckResult.Healthy($"{database.Path} is writable");
            }
            catch (Exception e)
            {
                result = HealthCheckResult.Unhealthy($"{database.Path} is not writable: {e.Message}");
            }

            lock (_lock)
            {
                _last = result;
            }

            return result;
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
