using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests;

[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class PeerLinkProcessTests
{
    private static readonly TimeSpan LinkTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ThreeNodes_TenzroEntries_LinkAndRelinkAfterSigkillAndRestart()
    {
        var ports = Enumerable.Range(0, 3).Select(_ => NodeProcess.FreePort()).ToArray();
        await using var a = await StartAsync(ports[0]);
        var aEntry = Entry(await IdOfAsync(a), ports[0]);
        await using var b = await StartAsync(ports[1], aEntry);
        var bId = await IdOfAsync(b);
        await using var c = await StartAsync(ports[2], $"{aEntry},{Entry(bId, ports[1])}");
        var ids = new[] { await IdOfAsync(a), bId, await IdOfAsync(c) };

        await WaitLinkedAsync([a, b, c], ids);
        foreach (var node in new[] { a, b, c })
        {
            var peers = await PeersAsync(node);
            Assert.Equal(2, peers.Count);
            Assert.All(peers, p => Assert.True(p["rttMs"]!.GetValue<double>() >= 0));
        }

        await b.SignalAsync(9);
        Assert.True(await b.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        await using var restarted = await StartAsync(ports[1], aEntry, b.DataDirectory, b.Port);

        await WaitLinkedAsync([a, restarted, c], ids);
        var status = await a.Client.GetFromJsonAsync<JsonObject>("/api/network/status");
        Assert.Equal(2, status!["links"]!["open"]!.GetValue<int>());
    }

    [Fact]
    public async Task Cli_PeersResetAndDiagnostics_ShowAndCheckTheLinks()
    {
        var ports = new[] { NodeProcess.FreePort(), NodeProcess.FreePort() };
        await using var a = await StartAsync(ports[0]);
        var aId = await IdOfAsync(a);
        await using var b = await StartAsync(ports[1], Entry(aId, ports[0]));
        await WaitLinkedAsync([a, b], [aId, await IdOfAsync(b)]);

        var (tableExit, table) = await Cli.RunAsync("peers", "--url", b.BaseAddress.ToString());
        var (jsonExit, json) = await Cli.RunAsync("peers", "--json", "--url", b.BaseAddress.ToString());
        var (resetExit, reset) = await Cli.RunOnAsync(b, "reset-connections", "--peers");
        var wrongId = new string('a', 64);
        var (diagnosticsExit, diagnostics) = await Cli.RunInAsync(null, new Dictionary<string, string>
        {
            ["BOOTSTRAP_NODES"] = $"{Entry(aId, ports[0])},{Entry(wrongId, ports[0])}",
        }, "network-diagnostics", "--timeout", "5");

        Assert.Equal(0, tableExit);
        Assert.Contains(aId[..16], table, StringComparison.Ordinal);
        Assert.Contains("open", table, StringComparison.Ordinal);
        Assert.Equal(0, jsonExit);
        Assert.Equal(aId, JsonNode.Parse(json)!["peers"]![0]!["id"]!.GetValue<string>());
        Assert.Equal(0, resetExit);
        Assert.Contains("peer links reset: 1 closed", reset, StringComparison.Ordinal);
        Assert.Equal(1, diagnosticsExit);
        Assert.Contains("ok   hello", diagnostics, StringComparison.Ordinal);
        Assert.Contains("FAIL identity", diagnostics, StringComparison.Ordinal);
        Assert.Contains("wrong id", diagnostics, StringComparison.Ordinal);
        await WaitLinkedAsync([a, b], [aId, await IdOfAsync(b)]);
    }

    internal static string Entry(string id, int port) => $"tenzro://{id}@127.0.0.1:{port}";

    internal static Task<NodeProcess> StartAsync(int p2pPort, string? bootstrap = null, string? dataDirectory = null, int? port = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["LOCAL_DISCOVERY_PORT"] = p2pPort.ToString(CultureInfo.InvariantCulture),
            ["RECONNECT_INTERVAL"] = "200",
        };
        if (bootstrap is not null)
        {
            environment["BOOTSTRAP_NODES"] = bootstrap;
        }

        return NodeProcess.StartAsync(environment, dataDirectory, port);
    }

    internal static async Task<string> IdOfAsync(NodeProcess node) =>
        (await node.Client.GetFromJsonAsync<JsonObject>("/status"))!["nodeId"]!.GetValue<string>();

    private static async Task<List<JsonObject>> PeersAsync(NodeProcess node) =>
        [.. (await node.Client.GetFromJsonAsync<JsonObject>("/api/peers"))!["peers"]!.AsArray().OfType<JsonObject>()];

    internal static async Task WaitLinkedAsync(NodeProcess[] nodes, string[] ids)
    {
        var deadline = DateTime.UtcNow + LinkTimeout;
        for (var i = 0; i < nodes.Length; i++)
        {
            var others = ids.Where((_, k) => k != i).ToHashSet();
            while (true)
            {
                var open = (await PeersAsync(nodes[i])).Where(p => p["link"]?.GetValue<string>() == "open").Select(p => p["id"]!.GetValue<string>());
                if (others.IsSubsetOf(open))
                {
                    break;
                }

                Assert.True(DateTime.UtcNow < deadline, $"node {i + 1} did not list the others with link open:\n{nodes[i].Output}");
                await Task.Delay(100);
            }
        }
    }
}
