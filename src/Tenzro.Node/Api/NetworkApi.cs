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
            return TypedResults.Ok(new NetworkStatusBody(
                RegionalLinkBody.Of(snapshot, outbox.PendingCount()),
                NetworkEarningsBody.Of(earnings.Totals),
                snapshot.Peers,
                new PeerLinksBody(peerLinks.OpenLinks, peerLinks.MaxLinks),
                lan.Status(),
                DhtBody.Of(dht),
                new P2pBody(network.P2pHost, peerLinks.Port == 0 ? null : peerLinks.Port, peerLinks.ListenerError is null ? "listening" : "failed", peerLinks.ListenerError),
                // The node record's name; only while the node is in a group (RAFT_PORT is bound only then).
                raftPort.Bound == 0 ? null : raftPort.Bound));
        }).WithName("GetNetworkStatus").WithSummary("The regional link: state, URL, join round trip, last node_status, reconnects, outbox depth, errors and peers; the peer links open and the P2P port; the DHT's state, routing table and records.");

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
