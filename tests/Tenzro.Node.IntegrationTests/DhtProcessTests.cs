using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests;

/// <summary>Five node processes on loopback form a DHT through the first one's udp:// entry.</summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class DhtProcessTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task FiveNodes_BootstrapFromTheFirst_FindATrainerByTierLinkToItAndRejoinFromTheSavedTableAfterARestart()
    {
        var firstPort = NodeProcess.FreePort();
        await using var first = await StartAsync(firstPort);
        var bootstrap = $"udp://127.0.0.1:{firstPort}";
        var nodes = new List<NodeProcess> { first };
        try
        {
            for (var i = 2; i <= 5; i++)
            {
                nodes.Add(await StartAsync(NodeProcess.FreePort(), bootstrap, tier: i == 3 ? "training" : "inference"));
            }

            foreach (var node in nodes)
            {
                await WaitForAsync(async () => await TableSizeAsync(node) >= 4, $"node {nodes.IndexOf(node) + 1} did not fill its routing table", node);
            }

            var trainerId = await IdOfAsync(nodes[2]);
            var last = nodes[4];
            Assert.NotEqual("open", await LinkAsync(last, trainerId));
            await WaitForAsync(
                async () =>
                {
                    var peers = (await last.Client.GetFromJsonAsync<JsonObject>("/api/peers?tier=training"))!["peers"]!.AsArray();
                    return peers.Any(p => p!["id"]!.GetValue<string>() == trainerId && p["foundBy"]!.AsArray().Any(f => f!.GetValue<string>() == "dht"));
                },
                "the last node did not find the training node by tier",
                last);
            var listed = (await last.Client.GetFromJsonAsync<JsonObject>("/api/peers?tier=training"))!["peers"]!.AsArray();
            Assert.All(listed, p => Assert.Equal("training", p!["tier"]!.GetValue<string>()));

            // The search found a peer this node wants: it dials the address of its record by itself.
            await WaitForAsync(async () => await LinkAsync(last, trainerId) == "open", "the last node did not link to the training node it found", last);

            // The second node comes back on a new port without its bootstrap entry: only its saved table can bring it back.
            var second = nodes[1];
            await second.SignalAsync(15);
            Assert.True(await second.WaitForExitAsync(TimeSpan.FromSeconds(15)));
            await using var restarted = await StartAsync(NodeProcess.FreePort(), bootstrap: null, dataDirectory: second.DataDirectory, port: second.Port);
            await WaitForAsync(async () => await TableSizeAsync(restarted) >= 4, "the restarted node did not rejoin from its saved routing table", restarted);
            await WaitForAsync(
                async () => (await restarted.Client.GetFromJsonAsync<JsonObject>("/api/network/status"))!["dht"]!["state"]!.GetValue<string>() == "running",
                "the restarted node's DHT did not end its join (state running)",
                restarted);
        }
        finally
        {
            foreach (var node in nodes.Skip(1))
            {
                await node.DisposeAsync();
            }
        }
    }

    private static Task<NodeProcess> StartAsync(int p2pPort, string? bootstrap = null, string tier = "inference", string? dataDirectory = null, int? port = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["LOCAL_DISCOVERY_PORT"] = p2pPort.ToString(CultureInfo.InvariantCulture),
            ["DHT_ENABLED"] = "true",
            ["DHT_REFRESH_INTERVAL"] = "2000",
            ["NODE_TIER"] = tier,
        };
        if (bootstrap is not null)
        {
            environment["BOOTSTRAP_NODES"] = bootstrap;
        }

        return NodeProcess.StartAsync(environment, dataDirectory, port);
    }

    private static async Task<int> TableSizeAsync(NodeProcess node) =>
        (await node.Client.GetFromJsonAsync<JsonObject>("/api/network/status"))!["dht"]!["routingTableSize"]!.GetValue<int>();

    private static async Task<string?> LinkAsync(NodeProcess node, string peerId) =>
        (await node.Client.GetFromJsonAsync<JsonObject>("/api/peers"))!["peers"]!.AsArray().FirstOrDefault(p => p!["id"]!.GetValue<string>() == peerId)?["link"]?.GetValue<string>();

    private static async Task<string> IdOfAsync(NodeProcess node) =>
        (await node.Client.GetFromJsonAsync<JsonObject>("/status"))!["nodeId"]!.GetValue<string>();

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what, NodeProcess node)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what}:\n{node.Output}");
            await Task.Delay(200);
        }
    }
}
