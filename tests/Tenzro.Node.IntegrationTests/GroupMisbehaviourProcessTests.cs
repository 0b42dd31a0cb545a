using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Aggregation;
using Tenzro.Node.Core.Identity;

namespace Tenzro.Node.IntegrationTests;

/// <summary>
/// A node process linked to peers that misbehave in the <c>group</c> domain (docs/AGGREGATION.md "Exclusion" and
/// "Quotas"): one sends invalid group messages, one sends more than its group quota. What the node's user sees: both
/// excluded with their reasons, the drops counted in <c>/metrics</c>, the candidates' warnings, a node that keeps
/// serving, and exclusions that outlast a restart.
/// </summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class GroupMisbehaviourProcessTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact(Timeout = 120_000)]
    public async Task PeersSendingInvalidAndOverQuotaGroupMessages_AreExcludedWithTheirReasons_NodeKeepsServing_ExclusionsOutlastARestart()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var p2pPort = NodeProcess.FreePort();
        var node = await AggregationProcessTests.StartAsync(p2pPort, "aggregator");
        try
        {
            var nodeId = await PeerLinkProcessTests.IdOfAsync(node);
            await using var liar = await GroupPeer.LinkAsync(nodeId, p2pPort, timeout.Token);
            await using var flooder = await GroupPeer.LinkAsync(nodeId, p2pPort, timeout.Token);

            // Three invalid messages within a minute: a tampered signature, no step, a proposal naming another founder.
            var tampered = GroupMessages.Query("g-liar", liar.Guard, liar.Identity);
            tampered["groupId"] = "g-other";
            await liar.SendAsync(tampered, timeout.Token);
            await liar.SendAsync(liar.Guard.StampAndSign(new JsonObject { ["type"] = GroupMessages.Type, ["groupId"] = "g-liar" }, SignatureDomain.Group, liar.Identity), timeout.Token);
            await liar.SendAsync(GroupMessages.Propose(new GroupProposal("g-liar", nodeId, Existing: false), liar.Guard, liar.Identity), timeout.Token);
            var liarExcluded = await ExcludedAsync(node, liar.Id, timeout.Token);
            Assert.Equal("wrong_sender", liarExcluded["reason"]!.GetValue<string>());

            // 20 valid messages of 64 KiB a second: over the group quota's 256 KiB a second, far under the links' flood
            // limit (200 messages and 16 MiB a second), so a node that stalls for a while does not cut the link instead.
            var flooderExcluded = await FloodUntilExcludedAsync(node, flooder, timeout.Token);
            Assert.Equal("group_quota", flooderExcluded["reason"]!.GetValue<string>());

            Assert.True(await DroppedAsync(node, "quota") > 0, "tenzro_aggregation_dropped_total{reason=\"quota\"} did not grow");
            var candidates = (await node.Client.GetFromJsonAsync<JsonObject>("/api/aggregation/candidates", timeout.Token))!["candidates"]!.AsArray().OfType<JsonObject>().ToList();
            foreach (var (peer, excluded) in new[] { (liar.Id, liarExcluded), (flooder.Id, flooderExcluded) })
            {
                var candidate = candidates.Single(c => c["id"]!.GetValue<string>() == peer);
                var warning = candidate["warnings"]!.AsArray().Select(w => w!.GetValue<string>()).Single(w => w.StartsWith("excluded from this node's groups until", StringComparison.Ordinal));
                Assert.Contains(excluded["until"]!.GetValue<string>(), warning, StringComparison.Ordinal);
            }

            Assert.Contains("excluded from this node's groups (wrong_sender)", node.Output, StringComparison.Ordinal);
            Assert.Contains("excluded from this node's groups (group_quota)", node.Output, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.OK, (await node.Client.GetAsync("/health", timeout.Token)).StatusCode);

            await node.SignalAsync(15);
            Assert.True(await node.WaitForExitAsync(TimeSpan.FromSeconds(20)), "the node did not stop on SIGTERM:\n" + node.Output);
            var restarted = await AggregationProcessTests.StartAsync(p2pPort, "aggregator", dataDirectory: node.DataDirectory, port: node.Port);
            await node.DisposeAsync();
            node = restarted;

            var after = (await ViewAsync(node, timeout.Token))["excluded"]!.AsArray().OfType<JsonObject>().ToList();
            Assert.Equal(
                new[] { liarExcluded, flooderExcluded }.Select(Summary).Order(StringComparer.Ordinal),
                after.Select(Summary).Order(StringComparer.Ordinal));
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    private static string Summary(JsonObject excluded) =>
        $"{excluded["id"]} {excluded["reason"]} {excluded["until"]}";

    private static async Task<JsonObject> ViewAsync(NodeProcess node, CancellationToken cancellationToken) =>
        (await node.Client.GetFromJsonAsync<JsonObject>("/api/aggregation", cancellationToken))!;

    /// <summary>The entry of <c>GET /api/aggregation</c> <c>excluded</c> for <paramref name="peerId"/>; null while there is none.</summary>
    private static async Task<JsonObject?> ExclusionAsync(NodeProcess node, string peerId, CancellationToken cancellationToken) =>
        (await ViewAsync(node, cancellationToken))["excluded"]!.AsArray().OfType<JsonObject>().FirstOrDefault(e => e["id"]!.GetValue<string>() == peerId);

    private static async Task<JsonObject> ExcludedAsync(NodeProcess node, string peerId, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            if (await ExclusionAsync(node, peerId, cancellationToken) is { } found)
            {
                return found;
            }

            Assert.True(DateTime.UtcNow < deadline, "the peer was not excluded:\n" + node.Output);
            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>Sends two valid group messages of 64 KiB every 100 ms until the node lists the sender as excluded.</summary>
    private static async Task<JsonObject> FloodUntilExcludedAsync(NodeProcess node, GroupPeer flooder, CancellationToken cancellationToken)
    {
        var padding = new string('x', 64 * 1024);
        var deadline = DateTime.UtcNow + Wait;
        for (var round = 0; ; round++)
        {
            for (var i = 0; i < 2; i++)
            {
                var query = new JsonObject { ["step"] = GroupStep.Query, ["groupId"] = "g-flood", ["padding"] = padding };
                await flooder.SendAsync(GroupMessages.Work(query, flooder.Guard, flooder.Identity), cancellationToken);
            }

            if (round % 5 == 4 && await ExclusionAsync(node, flooder.Id, cancellationToken) is { } found)
            {
                return found;
            }

            Assert.True(DateTime.UtcNow < deadline, "the peer over its group quota was not excluded:\n" + node.Output);
            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>The value of <c>tenzro_aggregation_dropped_total</c> for <paramref name="reason"/> in <c>/metrics</c>.</summary>
    private static async Task<double> DroppedAsync(NodeProcess node, string reason)
    {
        var text = await node.Client.GetStringAsync("/metrics");
        return text.Split('\n')
            .Where(l => l.StartsWith("tenzro_aggregation_dropped_total{", StringComparison.Ordinal) && l.Contains($"reason=\"{reason}\"", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }
}
