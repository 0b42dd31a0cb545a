using System.Net;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Regional;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Lan;
using Tenzro.Node.Core.Dht;
using Tenzro.Node.Core.Peers;

using Tenzro.Node.Security;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Api;

/// <summary><c>GET /api/network/status</c> (the regional link in detail) and the loopback-only <c>POST /api/network/reset</c>.</summary>
internal static class NetworkApi
{
    public static WebApplication MapNetworkApi(this WebApplication app)
    {
        var group = app.MapGroup("/api/network").WithTags("Network");
        group.MapGet("/status", (IRegionalLinkStatus link, RegionalOutbox outbox, EarningsLedger earnings, IPeerLinks peerLinks, ILanDiscovery lan, IDhtStatus dht, NetworkOptions network, Core.Aggregation.GroupLogPort raftPort) =>
        {
            var snapshot = link.Snapshot();
            var lanStatus = lan.Status();
            var totals = earnings.Totals;
            return TypedResults.Json(new JsonObject
            {
                ["regional"] = new JsonObject
                {
                    ["state"] = snapshot.StateName,
                    ["url"] = snapshot.Url?.ToString(),
                    ["since"] = Timestamps.FormatPrecise(snapshot.Since),
                    ["reason"] = snapshot.Reason,
                    ["reconnects"] = snapshot.Reconnects,
                    ["consecutiveFailures"] = snapshot.ConsecutiveFailures,
                    ["joinedAt"] = snapshot.JoinedAt is { } joined ? Timestamps.FormatPrecise(joined) : null,
                    ["lastJoinRoundTripMs"] = snapshot.LastJoinRoundTripMs,
                    ["lastNodeStatus"] = snapshot.LastNodeStatus,
                    ["lastNodeStatusAt"] = snapshot.LastNodeStatusAt is { } sent ? Timestamps.FormatPrecise(sent) : null,
                    ["outboxDepth"] = outbox.PendingCount(),
                    ["droppedFrames"] = new JsonObject
                    {
                        ["malformed"] = snapshot.Dropped.Malformed,
                        ["oversized"] = snapshot.Dropped.Oversized,
                        ["badSignature"] = snapshot.Dropped.BadSignature,
                        ["unsigned"] = snapshot.Dropped.Unsigned,
                    },
                    ["regionalKey"] = new JsonObject { ["pinned"] = snapshot.PinnedKey is not null, ["by"] = snapshot.PinnedBy, ["publicKey"] = snapshot.PinnedKey },
                    ["warnings"] = new JsonArray([.. Warnings(snapshot).Select(w => (JsonNode)w)]),
                    ["refusedRewards"] = snapshot.RefusedRewards,
                    ["recentErrors"] = new JsonArray([.. snapshot.RecentErrors.Select(e => (JsonNode)new JsonObject
                    {
                        ["at"] = Timestamps.FormatPrecise(e.At),
                        ["error"] = e.Error,
                        ["messageType"] = e.MessageType,
                        ["taskId"] = e.TaskId,
                    })]),
                },
                ["earnings"] = new JsonObject
                {
                    ["total"] = totals.Total,
                    ["rewards"] = totals.Rewards,
                    ["lastRewardAt"] = totals.LastRewardAt is { } at ? Timestamps.FormatPrecise(at) : null,
                },
                ["peers"] = new JsonArray([.. snapshot.Peers.Select(p => (JsonNode)p)]),
                ["links"] = new JsonObject { ["open"] = peerLinks.OpenLinks, ["max"] = peerLinks.MaxLinks },
                ["lan"] = new JsonObject
                {
                    ["enabled"] = lanStatus.Enabled,
                    ["state"] = lanStatus.State,
                    ["interfaces"] = new JsonArray([.. lanStatus.Interfaces.Select(i => (JsonNode)new JsonObject
                    {
                        ["name"] = i.Name,
                        ["addresses"] = new JsonArray([.. i.Addresses.Select(a => (JsonNode)a)]),
                        ["joined"] = i.Joined,
                        ["error"] = i.Error,
                    })]),
                    ["peers"] = lanStatus.Peers,
                },
                ["dht"] = new JsonObject
                {
                    ["enabled"] = dht.Enabled,
                    ["state"] = dht.State,
                    ["port"] = dht.Port == 0 ? null : dht.Port,
                    ["error"] = dht.Error,
                    ["routingTableSize"] = dht.RoutingTableSize,
                    ["bucketsInUse"] = dht.BucketsInUse,
                    ["records"] = dht.Records,
                    ["lastRefreshAt"] = dht.LastRefreshAt is { } refreshed ? Timestamps.FormatPrecise(refreshed) : null,
                },
                ["p2p"] = new JsonObject
                {
                    ["host"] = network.P2pHost,
                    ["port"] = peerLinks.Port == 0 ? null : peerLinks.Port,
                    ["state"] = peerLinks.ListenerError is null ? "listening" : "failed",
                    ["error"] = peerLinks.ListenerError,
                },
                // The node record's name; only while the node is in a group (RAFT_PORT is bound only then).
                ["raftPort"] = raftPort.Bound == 0 ? null : raftPort.Bound,
            });
        }).WithName("GetNetworkStatus").WithSummary("The regional link: state, URL, join round trip, last node_status, reconnects, outbox depth, errors and peers; the peer links open and the P2P port; the DHT's state, routing table and records.");

        static IEnumerable<string> Warnings(RegionalLinkSnapshot snapshot)
        {
            if (snapshot.State != RegionalLinkState.Disabled && snapshot.PinnedKey is null)
            {
                yield return "unpinned: the regional node has signed no frame and REGIONAL_NODE_KEY is not set, so frames from the link cannot be told from forged ones; set REGIONAL_NODE_KEY to its public key";
            }
        }

        group.MapGet("/outbox/{taskId}", IResult (string taskId, HttpContext context, RegionalOutbox outbox) =>
        {
            // The messages carry the regional task's result: only who may read the regional node's tasks sees them.
            if (!context.User.MayReadTaskOf(Core.Tasks.TaskOwners.Regional))
            {
                return HttpSetup.Problem(403, "Not your task", "The regional node's messages carry its tasks' results: the anonymous loopback caller and admin may read them.");
            }

            var rows = outbox.ForTask(taskId);
            return TypedResults.Json(new JsonObject
            {
                ["taskId"] = taskId,
                ["messages"] = new JsonArray([.. rows.Select(r => (JsonNode)new JsonObject
                {
                    ["type"] = r.Type,
                    ["createdAt"] = Timestamps.FormatPrecise(r.CreatedAt),
                    ["sentAt"] = r.SentAt is { } sent ? Timestamps.FormatPrecise(sent) : null,
                    ["error"] = r.Error,
                    ["errorAt"] = r.ErrorAt is { } at ? Timestamps.FormatPrecise(at) : null,
                    ["message"] = r.Message,
                })]),
            });
        }).RequireAuthorization(NodePolicies.Submitter).WithName("GetRegionalMessages").WithSummary("What was written to the regional node about one task, with the regional node's error answers.");

        group.MapPost("/reset", IResult (IRegionalLinkStatus link) =>
        {
            if (!link.RequestReset())
            {
                var snapshot = link.Snapshot();
                return snapshot.State == RegionalLinkState.Disabled
                    ? HttpSetup.Problem(409, "No regional link", "The node runs standalone: set REGIONAL_NODE_URL (or BOOTSTRAP_NODES) and restart it to join a regional node.")
                    : HttpSetup.Problem(409, "Regional link cannot be reset", $"The link is not retrying: {snapshot.Reason}. Fix the configuration and restart the node.");
            }

            var now = link.Snapshot();
            return TypedResults.Json(new JsonObject { ["reset"] = true, ["state"] = now.StateName, ["url"] = now.Url?.ToString() }, statusCode: 202);
        }).RequireAuthorization(NodePolicies.Admin).WithName("ResetRegionalLink").WithSummary("Close the regional link and reconnect at once (admin).");
        return app;
    }
}
