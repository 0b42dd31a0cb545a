using System.Reflection;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Regional;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Hosting;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Api;

/// <summary><c>GET /status</c> in the shape of CONTRACTS.md "/status".</summary>
internal static class StatusApi
{
    public static string Version { get; } =
        typeof(StatusApi).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static WebApplication MapStatusApi(this WebApplication app)
    {
        app.MapGet("/status", (NodeIdentity identity, NodeOptions node, NodeClock clock, TimeProvider time, ITaskStore store, TaskEngine engine, IntakeState intake, HardwareProfiler profiler, IRegionalLinkStatus regional, EarningsLedger earnings) =>
        {
            var counts = store.Counts();
            var earned = earnings.Totals;
            var body = new JsonObject
            {
                ["peerId"] = identity.PeerId,
                ["nodeId"] = identity.NodeId,
                ["nodeType"] = node.NodeType,
                ["tier"] = new JsonObject { ["configured"] = node.NodeTier, ["qualified"] = profiler.QualifiedTier },
                ["region"] = node.Region,
                ["version"] = Version,
                ["uptimeSeconds"] = Math.Round((time.GetUtcNow() - clock.StartedAt).TotalSeconds, 3),
                ["tokenBalance"] = node.TokenBalance + earned.Total,
                ["earnings"] = new JsonObject
                {
                    ["total"] = earned.Total,
                    ["lastRewardAt"] = earned.LastRewardAt is { } rewardedAt ? Timestamps.FormatPrecise(rewardedAt) : null,
                },
                ["regional"] = regional.Snapshot().ToStatusJson(),
                ["tasks"] = new JsonObject
                {
                    ["queued"] = engine.QueuedCount,
                    ["running"] = engine.RunningCount,
                    ["completed"] = counts.Completed,
                    ["failed"] = counts.Failed,
                    ["cancelled"] = counts.Cancelled,
                    ["timedOut"] = counts.TimedOut,
                },
                ["draining"] = intake.Draining,
            };
            return TypedResults.Json(body);
        }).WithName("GetStatus").WithSummary("Node identity, tier, uptime, regional link and task counts.");
        return app;
    }
}
