using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests.Lan;

/// <summary>
/// Five node processes, each in its own network namespace on the test bridge (<see cref="DhtNetwork"/>), form a DHT
/// through the first one's udp:// entry, find a node by tier, link to it, a restarted node rejoins from its saved
/// routing table, and a found node that left is no longer dialled.
/// </summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "lan")]
public sealed class DhtProcessTests(DhtNetwork network) : IClassFixture<DhtNetwork>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact(Timeout = 180_000)]
    public async Task FiveNodes_BootstrapFromTheFirst_FindATrainerByTierLinkToItAndRejoinFromTheSavedTableAfterARestart()
    {
        network.Require();
        var nodes = network.Nodes.ToList();
        foreach (var node in nodes)
        {
            await WaitForAsync(async () => await TableSizeAsync(node) >= 4, $"{node.Namespace} did not fill its routing table", node);
        }

        var trainerId = await nodes[2].IdAsync();
        var last = nodes[4];
        Assert.NotEqual("open", await LinkAsync(last, trainerId));
        await WaitForAsync(
            async () => (await TrainersAsync(last)).Any(p => p["id"]!.GetValue<string>() == trainerId && p["foundBy"]!.AsArray().Any(f => f!.GetValue<string>() == "dht")),
            "the last node did not find the training node by tier",
            last);
        Assert.All(await TrainersAsync(last), p => Assert.Equal("training", p["tier"]!.GetValue<string>()));

        // The search found a peer this node wants: it dials the address of its record by itself.
        await WaitForAsync(async () => await LinkAsync(last, trainerId) == "open", "the last node did not link to the training node it found", last);

        // The second node comes back on another port without its bootstrap entry: only its saved table can bring it back.
        var second = nodes[1];
        await second.Process.SignalAsync(15);
        Assert.True(await second.Process.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        var restarted = network.Launch(1, bootstrap: null, "inference", second.Process.DataDirectory, p2pPort: DhtNetwork.P2pPort + 1);
        network.Nodes.Add(restarted);
        await restarted.WaitHealthyAsync(TimeSpan.FromSeconds(60));
        await WaitForAsync(
            async () => (await restarted.GetAsync("/api/network/status"))?["dht"]?["state"]?.GetValue<string>() == "running",
            "the restarted node's DHT did not end its join (state running)",
            restarted);

        // Its join asked the saved contacts: a contact that did not answer would be stale, and not counted here.
        await WaitForAsync(async () => await TableSizeAsync(restarted) >= 4, "the restarted node did not rejoin from its saved routing table", restarted);

        // The training node leaves without a word: the node that dialled it stops redialling once it answers no DHT ping.
        await nodes[2].Process.SignalAsync(9);
        Assert.True(await nodes[2].Process.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        await WaitForAsync(
            () => Task.FromResult(last.Process.Output.Contains($"DHT peer {trainerId[..16]} gone: its link is down and it answers no DHT ping", StringComparison.Ordinal)),
            "the last node did not give up the training node that left",
            last);
        Assert.NotEqual("open", await LinkAsync(last, trainerId));
    }

    /// <summary>The contacts of the node's routing table that answered their last request (the table's size less the stale ones).</summary>
    private static async Task<int> TableSizeAsync(LanNode node) =>
        (await node.GetAsync("/api/network/status"))?["dht"] is JsonNode dht
            ? dht["routingTableSize"]!.GetValue<int>() - (dht["staleContacts"]?.GetValue<int>() ?? 0)
            : 0;

    private static async Task<string?> LinkAsync(LanNode node, string peerId) =>
        (await node.PeersAsync()).FirstOrDefault(p => p["id"]!.GetValue<string>() == peerId)?["link"]?.GetValue<string>();

    private static async Task<IReadOnlyList<JsonObject>> TrainersAsync(LanNode node) =>
        (await node.GetAsync("/api/peers?tier=training"))?["peers"]?.AsArray().OfType<JsonObject>().ToList() ?? [];

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what, LanNode node)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what}:\n{node.Process.Output}");
            await Task.Delay(250);
        }
    }
}
