using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests.Lan;

/// <summary>
/// <c>docker-compose --profile network up</c> without Docker (<see cref="ComposeNetwork"/>): the profile's nodes,
/// with the settings the compose file gives them, find each other by LAN discovery on the bridge, join the
/// regional node and form one aggregation group.
/// </summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "lan")]
public sealed class ComposeNetworkProfileTests(ComposeNetwork network) : IClassFixture<ComposeNetwork>
{
    [Fact(Timeout = 90_000)]
    public async Task NetworkProfile_NodesFindEachOtherOnTheLan_JoinTheRegionalNode_AndFormOneGroup()
    {
        network.Require();
        var nodes = network.Nodes;
        Assert.True(nodes.Count == 3, $"the network profile of docker-compose.yml has {nodes.Count} local nodes, not 3: {string.Join(", ", ComposeNetwork.NodeServices)}");
        var ids = await Task.WhenAll(nodes.Select(n => n.IdAsync()));
        var peerIds = await Task.WhenAll(nodes.Select(async n => (await n.GetAsync("/status"))!["peerId"]!.GetValue<string>()));

        foreach (var node in nodes)
        {
            var own = ids[nodes.IndexOf(node)];
            await UntilAsync($"{node.Namespace} lists the other nodes as found on the LAN with an open link", async () =>
            {
                var linked = (await node.PeersAsync())
                    .Where(p => Has(p["foundBy"], "lan") && p["link"]?.GetValue<string>() == "open")
                    .Select(p => p["id"]!.GetValue<string>());
                return ids.Where(id => id != own).All(linked.Contains);
            }, TimeSpan.FromSeconds(30));
        }

        var joined = await UntilAsync("the regional node lists the three nodes as joined", async () =>
        {
            var peers = (await network.RegionalGetAsync("/status"))?["peers"]?.AsArray().OfType<JsonObject>().ToList() ?? [];
            return peerIds.All(id => peers.Any(p => p["peerId"]?.GetValue<string>() == id)) ? peers : null;
        }, TimeSpan.FromSeconds(20));

        var views = await UntilAsync("the three nodes agree on one aggregation group with one leader", async () =>
        {
            var all = await Task.WhenAll(nodes.Select(n => n.GetAsync("/api/aggregation")));
            var groups = all.Select(v => v?["groupId"]?.GetValue<string>()).Distinct().ToList();
            var leaders = all.Select(v => v?["leaderId"]?.GetValue<string>()).Distinct().ToList();
            var states = all.Select(v => v?["state"]?.GetValue<string>()).ToList();
            var agreed = groups is [not null] && leaders is [not null] && states.Count(s => s == "leader") == 1 && states.All(s => s is "leader" or "member");
            return agreed ? all : null;
        }, TimeSpan.FromSeconds(40), async () => string.Join('\n', await Task.WhenAll(nodes.Select(async n =>
            $"{n.Namespace}: {(await n.GetAsync("/api/aggregation"))?.ToJsonString()} candidates {(await n.GetAsync("/api/aggregation/candidates"))?.ToJsonString()}"))));

        // The leader reports the group to the regional node in its node_status; the members do not.
        var groupId = views![0]!["groupId"]!.GetValue<string>();
        var leaderPeerId = peerIds[Array.IndexOf(ids, views[0]!["leaderId"]!.GetValue<string>())];
        var reported = await UntilAsync("the regional node does not show the leader's aggregation member in its node_status", async () =>
        {
            var peers = (await network.RegionalGetAsync("/status"))?["peers"]?.AsArray().OfType<JsonObject>().ToList() ?? [];
            var leader = peers.FirstOrDefault(p => p["peerId"]?.GetValue<string>() == leaderPeerId);
            return leader?["aggregation"] is JsonObject a && a["groupId"]?.GetValue<string>() == groupId && a["members"]?.GetValue<int>() == 3 ? peers : null;
        }, TimeSpan.FromSeconds(20));

        var tier = ComposeNetwork.EnvironmentOf(ComposeNetwork.NodeServices[0])["NODE_TIER"];
        Assert.All(joined!, p => Assert.Equal(tier, p["nodeTier"]!.GetValue<string>()));
        Assert.Contains(views![0]!["leaderId"]!.GetValue<string>(), ids);
        Assert.All(views, v => Assert.Equal(ids.Order(), v!["members"]!.AsArray().Select(m => m!["id"]!.GetValue<string>()).Order()));
        Assert.True(reported!.Single(p => p["peerId"]!.GetValue<string>() == leaderPeerId)["aggregation"]!["pooled"]!["cpuCores"]!.GetValue<double>() > 0);
        Assert.All(reported!.Where(p => p["peerId"]!.GetValue<string>() != leaderPeerId), p => Assert.Null(p["aggregation"]));
    }

    private static bool Has(JsonNode? array, string value) => array is JsonArray a && a.Any(v => v?.GetValue<string>() == value);

    /// <summary>Polls until the probe gives a value (or true); fails with <paramref name="what"/> and what <paramref name="explain"/> says.</summary>
    private static async Task<T?> UntilAsync<T>(string what, Func<Task<T?>> probe, TimeSpan timeout, Func<Task<string>>? explain = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var last = await probe();
            if (last is not null && !(last is bool b && !b))
            {
                return last;
            }

            await Task.Delay(250);
        }

        Assert.Fail($"{what}: not within {timeout.TotalSeconds:F0} s{(explain is null ? "" : "\n" + await explain())}");
        return default;
    }
}
