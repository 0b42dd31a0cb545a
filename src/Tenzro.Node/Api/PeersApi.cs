using System.Text.Json.Nodes;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Dht;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Security;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Api;

/// <summary><c>GET /api/peers</c> (CONTRACTS "API additions") and <c>POST /api/peers/redial</c> (admin), in one route group.</summary>
internal static class PeersApi
{
    public static WebApplication MapPeersApi(this WebApplication app)
    {
        var group = app.MapGroup("/api/peers").WithTags("Peers");
        group.MapGet("/", async (string? tier, string? region, PeerTable table, NodeOptions node, IDhtStatus dht, CancellationToken cancellationToken) =>
        {
            if (tier is not null && !NodeSettings.Tiers.Contains(tier))
            {
                return (IResult)HttpSetup.Problem(400, "Unknown tier", $"tier must be one of {string.Join(", ", NodeSettings.Tiers)}.");
            }

            // With a tier filter the region defaults to this node's REGION (CONTRACTS); without one, every peer is listed.
            var wantedRegion = region ?? (tier is null ? null : node.Region);
            if (tier is not null && dht.Enabled)
            {
                try
                {
                    // The nodes found join the peer table (foundBy: dht), so the listing below shows them.
                    await dht.FindTierAsync(tier, wantedRegion!, cancellationToken);
                }
                catch (TimeoutException)
                {
                    // The search ran out of time: what was found so far is in the table.
                }
            }

            var peers = table.Snapshot()
                .Where(p => tier is null || p.Tier == tier)
                .Where(p => wantedRegion is null || p.Region == wantedRegion)
                .Select(ToJson);
            return TypedResults.Json(new JsonObject { ["peers"] = new JsonArray([.. peers]) });
        }).WithName("GetPeers").WithSummary("Every peer this node knows: how it was found, its link and round trip, and the last error; ?tier= (and ?region=, default this node's REGION) also searches the DHT.");

        group.MapPost("/redial", async (IPeerLinks links) =>
        {
            var closed = await links.RedialAsync();
            return TypedResults.Json(new JsonObject { ["redial"] = true, ["closed"] = closed }, statusCode: 202);
        }).RequireAuthorization(NodePolicies.Admin).WithName("RedialPeers").WithSummary("Close every peer link and dial the tenzro:// bootstrap entries again at once (admin).");
        group.MapPost("/{id}/block", async (string id, PeerBlocklist blocklist, IPeerLinks links) =>
        {
            if (!PeerBlocklist.IsNodeId(id))
            {
                return (IResult)HttpSetup.Problem(400, "Not a node id", "The id must be a node id: 64 lowercase hex digits, as /api/peers lists them.");
            }

            var added = blocklist.Block(id);
            var closed = await links.CloseAsync(id, "blocked by this node's operator");
            return TypedResults.Json(new JsonObject { ["id"] = id, ["blocked"] = true, ["new"] = added, ["linkClosed"] = closed });
        }).RequireAuthorization(NodePolicies.Admin).WithName("BlockPeer").WithSummary("Keep a peer out: close its link, refuse its links and keep it out of groups, across restarts (admin).");

        group.MapDelete("/{id}/block", (string id, PeerBlocklist blocklist) =>
        {
            if (!PeerBlocklist.IsNodeId(id))
            {
                return (IResult)HttpSetup.Problem(400, "Not a node id", "The id must be a node id: 64 lowercase hex digits, as /api/peers lists them.");
            }

            return TypedResults.Json(new JsonObject { ["id"] = id, ["blocked"] = false, ["wasBlocked"] = blocklist.Unblock(id) });
        }).RequireAuthorization(NodePolicies.Admin).WithName("UnblockPeer").WithSummary("Lift the block of a peer (admin).");
        return app;
    }

    private static JsonNode ToJson(PeerEntry peer)
    {
        var json = new JsonObject
        {
            ["id"] = peer.Id,
            ["addresses"] = new JsonArray([.. peer.Addresses.Select(a => (JsonNode)a)]),
            ["foundBy"] = new JsonArray([.. peer.FoundBy.Select(f => (JsonNode)f)]),
            ["tier"] = peer.Tier,
            ["region"] = peer.Region,
            ["lastSeen"] = Timestamps.FormatPrecise(peer.LastSeen),
            ["link"] = PeerEntry.LinkName(peer.Link),
            ["rttMs"] = peer.RttMs,
        };
        if (peer.LastError is { } error)
        {
            json["lastError"] = error;
        }

        return json;
    }
}
