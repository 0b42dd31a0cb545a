using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests;

/// <summary>Aggregation groups between real node processes linked by <c>tenzro://</c> entries (docs/AGGREGATION.md).</summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class AggregationProcessTests
{
    private static readonly TimeSpan FormTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan FailoverTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task ThreeAggregators_FormOneGroup_InferenceNodeStaysOutAndIsBlocked_LeaderKilledIsReplaced_RestartedMemberRejoins_DrainHandsOver_LoneSurvivorDissolves()
    {
        var ports = Enumerable.Range(0, 4).Select(_ => NodeProcess.FreePort()).ToArray();
        var a = await StartAsync(ports[0], "aggregator");
        var aEntry = PeerLinkProcessTests.Entry(await PeerLinkProcessTests.IdOfAsync(a), ports[0]);
        var b = await StartAsync(ports[1], "aggregator", aEntry);
        var bEntry = PeerLinkProcessTests.Entry(await PeerLinkProcessTests.IdOfAsync(b), ports[1]);
        var c = await StartAsync(ports[2], "aggregator", $"{aEntry},{bEntry}");
        var cEntry = PeerLinkProcessTests.Entry(await PeerLinkProcessTests.IdOfAsync(c), ports[2]);
        await using var d = await StartAsync(ports[3], "inference", $"{aEntry},{bEntry},{cEntry}");
        var nodes = new List<NodeProcess> { a, b, c };
        try
        {
            var ids = new Dictionary<NodeProcess, string>();
            foreach (var node in nodes)
            {
                ids[node] = await PeerLinkProcessTests.IdOfAsync(node);
            }

            var formed = await WaitForGroupAsync(nodes, null, FormTimeout);
            var groupId = formed["groupId"]!.GetValue<string>();
            var leaderId = formed["leaderId"]!.GetValue<string>();
            Assert.Equal(3, formed["members"]!.AsArray().Count);
            Assert.True(formed["pooled"]!["cpuCores"]!.GetValue<double>() > 0);
            Assert.Equal("none", (await ViewAsync(d))["state"]!.GetValue<string>());
            foreach (var node in nodes)
            {
                // Each member shows the port its group log listens on, and something accepts connections there.
                var raftPort = await RaftPortAsync(node);
                Assert.NotNull(raftPort);
                using var probe = new System.Net.Sockets.TcpClient();
                await probe.ConnectAsync(System.Net.IPAddress.Loopback, raftPort.Value);
            }

            Assert.Null(await RaftPortAsync(d));
            var (groupExit, groupText) = await Cli.RunAsync("group", "--url", a.BaseAddress.ToString());
            Assert.Equal(0, groupExit);
            Assert.Contains(groupId, groupText, StringComparison.Ordinal);
            Assert.Contains(leaderId[..16], groupText, StringComparison.Ordinal);
            var dId = await PeerLinkProcessTests.IdOfAsync(d);
            // Proximity is judged on the median of fresh round trips; until a few pings have come back it may fail too.
            var refused = await WaitForAsync(async () => (await CandidatesAsync(a)).FirstOrDefault(x => x["id"]!.GetValue<string>() == dId && x["failed"]!.AsArray().Count == 1), FormTimeout, "the inference node is not a candidate of the first node that failed on one criterion");
            Assert.False(refused["eligible"]!.GetValue<bool>());
            Assert.Equal(["tier"], refused["failed"]!.AsArray().Select(f => f!.GetValue<string>()));

            var (blockExit, blockText) = await Cli.RunOnAsync(a, "peers", "block", dId);
            Assert.Equal(0, blockExit);
            Assert.Contains("blocked " + dId, blockText, StringComparison.Ordinal);
            await WaitForAsync(async () => (await a.Client.GetFromJsonAsync<JsonObject>("/api/peers"))!["peers"]!.AsArray()
                .FirstOrDefault(p => p!["id"]!.GetValue<string>() == dId && p["link"]!.GetValue<string>() != "open" && (p["lastError"]?.GetValue<string>() ?? string.Empty).Contains("blocked", StringComparison.Ordinal)), FormTimeout, "the blocked node's link did not stay closed with the reason");
            Assert.DoesNotContain(await CandidatesAsync(a), x => x["id"]!.GetValue<string>() == dId);

            var leader = nodes.Single(n => ids[n] == leaderId);
            await leader.SignalAsync(9);
            Assert.True(await leader.WaitForExitAsync(TimeSpan.FromSeconds(10)));
            nodes.Remove(leader);
            var after = await WaitForGroupAsync(nodes, leaderId, FailoverTimeout);
            Assert.Equal(groupId, after["groupId"]!.GetValue<string>());
            Assert.Equal(3, after["members"]!.AsArray().Count);
            var newLeaderId = after["leaderId"]!.GetValue<string>();
            var aliveOld = after["members"]!.AsArray().Single(m => m!["id"]!.GetValue<string>() == leaderId)!["alive"]!.GetValue<bool>();
            Assert.False(aliveOld);

            var restarted = await StartAsync(ports[Array.IndexOf(new[] { a, b, c }, leader)], "aggregator", $"{aEntry},{bEntry},{cEntry}", leader.DataDirectory, leader.Port);
            nodes.Add(restarted);
            ids[restarted] = leaderId;
            var rejoined = await WaitForGroupAsync(nodes, leaderId, FormTimeout);
            Assert.Equal(groupId, rejoined["groupId"]!.GetValue<string>());
            Assert.Equal(newLeaderId, rejoined["leaderId"]!.GetValue<string>());
            Assert.Equal("member", (await ViewAsync(restarted))["state"]!.GetValue<string>());

            var drained = nodes.Single(n => ids[n] == newLeaderId);
            using (var drain = await drained.Admin.PostAsync("/api/node/drain", null))
            {
                drain.EnsureSuccessStatusCode();
            }

            await WaitForAsync(async () => await ViewAsync(drained) is { } v && v["state"]!.GetValue<string>() == "none" ? v : null, FormTimeout, "the drained leader did not leave its group");
            nodes.Remove(drained);
            var handedOver = await WaitForGroupAsync(nodes, newLeaderId, FormTimeout);
            Assert.Equal(groupId, handedOver["groupId"]!.GetValue<string>());
            Assert.DoesNotContain(handedOver["members"]!.AsArray(), m => m!["id"]!.GetValue<string>() == newLeaderId);

            var survivor = restarted;
            foreach (var other in nodes.Where(n => n != survivor).ToList())
            {
                await other.SignalAsync(9);
                Assert.True(await other.WaitForExitAsync(TimeSpan.FromSeconds(10)));
            }

            var dissolved = await WaitForAsync(async () => await ViewAsync(survivor) is { } v && v["state"]!.GetValue<string>() == "none" ? v : null, FormTimeout, "the lone survivor did not dissolve its group");
            Assert.Empty(dissolved["members"]!.AsArray());
            Assert.Null(await RaftPortAsync(survivor));
        }
        finally
        {
            foreach (var node in nodes.Append(a).Append(b).Append(c).Distinct())
            {
                await node.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task FollowerRemovedWhileItsLeaderCannotTellIt_LeavesAtOnceRatherThanAfterTheLeaderlessTimeout()
    {
        // AGGREGATION_TIMEOUT is far longer than the wait: only the members' committed state can end the membership in time.
        const string longTimeout = "600000";
        var ports = Enumerable.Range(0, 3).Select(_ => NodeProcess.FreePort()).ToArray();
        await using var a = await StartAsync(ports[0], "aggregator", timeoutMs: longTimeout);
        var aEntry = PeerLinkProcessTests.Entry(await PeerLinkProcessTests.IdOfAsync(a), ports[0]);
        await using var b = await StartAsync(ports[1], "aggregator", aEntry, timeoutMs: longTimeout);
        var bEntry = PeerLinkProcessTests.Entry(await PeerLinkProcessTests.IdOfAsync(b), ports[1]);
        await using var c = await StartAsync(ports[2], "aggregator", $"{aEntry},{bEntry}", timeoutMs: longTimeout);
        var nodes = new[] { a, b, c };
        var ids = new Dictionary<NodeProcess, string>();
        foreach (var node in nodes)
        {
            ids[node] = await PeerLinkProcessTests.IdOfAsync(node);
        }

        var formed = await WaitForGroupAsync(nodes, null, FormTimeout);
        var leader = nodes.Single(n => ids[n] == formed["leaderId"]!.GetValue<string>());
        var follower = nodes.First(n => n != leader);

        // Blocking the follower on the leader closes their link, so the leader's removal cannot be announced to it.
        var (blockExit, _) = await Cli.RunOnAsync(leader, "peers", "block", ids[follower]);
        Assert.Equal(0, blockExit);
        var left = await WaitForAsync(async () => await ViewAsync(follower) is { } v && v["state"]!.GetValue<string>() == "none" ? v : null, FormTimeout, () => "the removed follower did not leave its group:\n" + follower.Output[^Math.Min(3000, follower.Output.Length)..]);
        Assert.Empty(left["members"]!.AsArray());
        Assert.Null(await RaftPortAsync(follower));
        Assert.Contains("no longer lists this node", follower.Output, StringComparison.Ordinal);
        var remaining = await ViewAsync(leader);
        Assert.Equal(2, remaining["members"]!.AsArray().Count);
        Assert.DoesNotContain(remaining["members"]!.AsArray(), m => m!["id"]!.GetValue<string>() == ids[follower]);
    }

    internal static Task<NodeProcess> StartAsync(int p2pPort, string tier, string? bootstrap = null, string? dataDirectory = null, int? port = null, string timeoutMs = "10000")
    {
        var environment = new Dictionary<string, string>
        {
            ["LOCAL_DISCOVERY_PORT"] = p2pPort.ToString(CultureInfo.InvariantCulture),
            ["RECONNECT_INTERVAL"] = "200",
            ["NODE_TIER"] = tier,
            ["AGGREGATION_THRESHOLD"] = "3",
            ["AGGREGATION_TIMEOUT"] = timeoutMs,
            ["AGGREGATION_ELECTION_TIMEOUT"] = "1000",
        };
        if (bootstrap is not null)
        {
            environment["BOOTSTRAP_NODES"] = bootstrap;
        }

        return NodeProcess.StartAsync(environment, dataDirectory, port);
    }

    /// <summary>The group log port <c>/api/network/status</c> shows; null while the node is in no group.</summary>
    internal static async Task<int?> RaftPortAsync(NodeProcess node) =>
        (await node.Client.GetFromJsonAsync<JsonObject>("/api/network/status"))!["raftPort"]?.GetValue<int>();

    private static async Task<JsonObject> ViewAsync(NodeProcess node) =>
        (await node.Client.GetFromJsonAsync<JsonObject>("/api/aggregation"))!;

    private static async Task<List<JsonObject>> CandidatesAsync(NodeProcess node) =>
        [.. (await node.Client.GetFromJsonAsync<JsonObject>("/api/aggregation/candidates"))!["candidates"]!.AsArray().OfType<JsonObject>()];

    /// <summary>Waits until every node names one group and one leader (not <paramref name="formerLeader"/>), exactly one of them as leader; returns the leader's view.</summary>
    internal static Task<JsonObject> WaitForGroupAsync(IReadOnlyList<NodeProcess> nodes, string? formerLeader, TimeSpan timeout) =>
        WaitForAsync(async () =>
        {
            var views = new List<JsonObject>();
            foreach (var node in nodes)
            {
                views.Add(await ViewAsync(node));
            }

            var groups = views.Select(v => v["groupId"]?.GetValue<string>()).Distinct().ToList();
            var leaders = views.Select(v => v["leaderId"]?.GetValue<string>()).Distinct().ToList();
            var states = views.Select(v => v["state"]!.GetValue<string>()).ToList();
            var agreed = groups is [{ } _] && leaders is [{ } leader] && leader != formerLeader
                && states.Count(s => s == "leader") == 1 && states.All(s => s is "leader" or "member");
            return agreed ? views.Single(v => v["state"]!.GetValue<string>() == "leader") : null;
        }, timeout, () => "the nodes did not agree on one group with one leader:\n" + string.Join("\n", nodes.Select(n => n.Output.Length > 3000 ? n.Output[^3000..] : n.Output)));

    private static Task<T> WaitForAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, string what)
        where T : class => WaitForAsync(probe, timeout, () => what);

    private static async Task<T> WaitForAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, Func<string> what)
        where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await probe() is { } found)
            {
                return found;
            }

            Assert.True(DateTime.UtcNow < deadline, DateTime.UtcNow < deadline ? null : what());
            await Task.Delay(200);
        }
    }
}
