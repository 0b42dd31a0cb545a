using System.Text.Json.Nodes;
using Tenzro.Node.Hosting;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Api;

/// <summary>
/// <c>GET /api/metrics</c>: the same instruments as <c>/metrics</c>, as JSON, with a small summary of the
/// figures the dashboard charts (derived from those instruments, not sampled a second time).
/// </summary>
internal static class MetricsApi
{
    public static WebApplication MapMetricsApi(this WebApplication app)
    {
        app.MapGet("/api/metrics", (MetricsSnapshot snapshot, TimeProvider time) =>
        {
            var metrics = snapshot.Collect();
            return TypedResults.Json(new JsonObject
            {
                ["collectedAt"] = Core.Json.Timestamps.FormatPrecise(time.GetUtcNow()),
                ["summary"] = new JsonObject
                {
                    ["hostCpuUtilization"] = Sum(metrics, "tenzro.host.cpu.utilization"),
                    ["hostMemoryUtilization"] = Sum(metrics, "tenzro.host.memory.utilization"),
                    ["storageUtilization"] = Sum(metrics, "tenzro.storage.utilization"),
                    ["processCpuUtilization"] = Sum(metrics, "tenzro.process.cpu.utilization"),
                    ["processMemoryBytes"] = Sum(metrics, "tenzro.process.memory.usage"),
                    ["tasksSubmitted"] = Sum(metrics, "tenzro.tasks.submitted"),
                    ["tasksCompleted"] = Sum(metrics, "tenzro.tasks.completed"),
                    ["tasksFailed"] = Sum(metrics, "tenzro.tasks.failed"),
                    ["tasksTimedOut"] = Sum(metrics, "tenzro.tasks.timed_out"),
                    ["tasksCancelled"] = Sum(metrics, "tenzro.tasks.cancelled"),
                    ["tasksQueued"] = Sum(metrics, "tenzro.tasks.queued"),
                    ["tasksRunning"] = Sum(metrics, "tenzro.tasks.running"),
                },
                ["metrics"] = metrics,
            });
        }).WithTags("Metrics").WithName("GetMetrics").WithSummary("Performance metrics as JSON (the same instruments as /metrics).");
        return app;
    }

    /// <summary>The sum of a metric's point values over all tag sets (0 when absent).</summary>
    private static double Sum(JsonObject metrics, string name) =>
        metrics[name]?["points"] is JsonArray points
            ? points.Sum(p => p?["value"] is { } value ? double.Parse(value.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture) : 0)
            : 0;
}
