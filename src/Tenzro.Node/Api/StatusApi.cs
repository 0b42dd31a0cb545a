using System.Reflection;
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
            var earned = earnings.Totals;
            return TypedResults.Ok(new StatusBody(
                identity.PeerId,
                identity.NodeId,
                node.NodeType,
                new TierBody(node.NodeTier, profiler.QualifiedTier),
                node.Region,
                Version,
                Math.Round((time.GetUtcNow() - clock.StartedAt).TotalSeconds, 3),
                node.TokenBalance + earned.Total,
                new StatusEarningsBody(earned.Total, earned.LastRewardAt is { } rewardedAt ? Timestamps.FormatPrecise(rewardedAt) : null),
                RegionalSummaryBody.Of(regional.Snapshot()),
                TaskCountsBody.Of(engine, store.Counts()),
                intake.Draining));
        }).WithName("GetStatus").WithSummary("Node identity, tier, uptime, regional link and task counts.");
        return app;
    }
}
