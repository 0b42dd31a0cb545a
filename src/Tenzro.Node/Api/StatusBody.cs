using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Regional;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Api;

/// <summary><c>GET /status</c> (CONTRACTS.md "/status"), read back by <c>tenzro-node status</c>.</summary>
internal sealed record StatusBody(
    string PeerId,
    string NodeId,
    string NodeType,
    TierBody Tier,
    string Region,
    string Version,
    double UptimeSeconds,
    double TokenBalance,
    StatusEarningsBody Earnings,
    RegionalSummaryBody Regional,
    TaskCountsBody Tasks,
    bool Draining);

/// <summary>The tier set by NODE_TIER and the one the hardware qualifies for.</summary>
internal sealed record TierBody(string Configured, string Qualified);

/// <summary>What the regional node has paid, as <c>/status</c> shows it.</summary>
internal sealed record StatusEarningsBody(double Total, string? LastRewardAt);

/// <summary>The <c>regional</c> member of <c>/status</c>: the link in brief (<c>/api/network/status</c> has it in detail).</summary>
internal sealed record RegionalSummaryBody(string State, string? Url, string Since, long Reconnects, string? Reason)
{
    public static RegionalSummaryBody Of(RegionalLinkSnapshot snapshot) =>
        new(snapshot.StateName, snapshot.Url?.ToString(), Timestamps.FormatPrecise(snapshot.Since), snapshot.Reconnects, snapshot.Reason);
}

/// <summary>Tasks by state: queued and running now, the final states since the database was made.</summary>
internal sealed record TaskCountsBody(long Queued, long Running, long Completed, long Failed, long Cancelled, long TimedOut)
{
    public static TaskCountsBody Of(TaskEngine engine, TaskCounts stored) =>
        new(engine.QueuedCount, engine.RunningCount, stored.Completed, stored.Failed, stored.Cancelled, stored.TimedOut);
}
