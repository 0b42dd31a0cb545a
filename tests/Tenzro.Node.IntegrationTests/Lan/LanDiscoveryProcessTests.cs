using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Tenzro.Node.IntegrationTests.Lan;

/// <summary>
/// LAN discovery between real node processes over real multicast, in network namespaces on a bridge
/// (<see cref="LanNetwork"/>): nodes find and link each other, report each interface, are seen by an independent
/// DNS-SD browser, ignore forged and broken packets, and drop a peer at its goodbye or after its records expire.
/// </summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "lan")]
public sealed partial class LanDiscoveryProcessTests(LanNetwork network) : IClassFixture<LanNetwork>
{
    private const int Timeout = 120_000;
    private static readonly string[] TxtKeys = ["id", "pk", "tier", "v", "seq", "exp", "sig"];

    [Fact(Timeout = Timeout)]
    public async Task Nodes_OnOneLan_FindEachOtherAndLinkAsFoundByLan()
    {
        network.Require();
        var nodes = network.Nodes.Take(3).ToList();
        var ids = await Task.WhenAll(nodes.Select(n => n.IdAsync()));

        foreach (var node in nodes)
        {
            await UntilAsync($"{node.Namespace} lists the other nodes as found on the LAN with an open link", async () =>
            {
                var peers = await node.PeersAsync();
                var linked = peers.Where(p => Has(p["foundBy"], "lan") && p["link"]?.GetValue<string>() == "open").Select(p => p["id"]!.GetValue<string>());
                return ids.Where(id => id != ids[nodes.IndexOf(node)]).All(linked.Contains);
            }, TimeSpan.FromSeconds(30));
        }

        var status = (await nodes[0].GetAsync("/api/network/status"))!["lan"]!;
        Assert.True(status["enabled"]!.GetValue<bool>());
        Assert.Equal("running", status["state"]!.GetValue<string>());
        Assert.True(status["peers"]!.GetValue<int>() >= 2);
        var eth0 = Assert.Single(status["interfaces"]!.AsArray(), i => i!["name"]!.GetValue<string>() == "eth0")!;
        Assert.True(eth0["joined"]!.GetValue<bool>());
        Assert.Contains("10.77.0.1", eth0["addresses"]!.AsArray().Select(a => a!.GetValue<string>()));
    }

    [Fact(Timeout = Timeout)]
    public async Task NodeWithTwoInterfaces_JoinsOnTheGoodOne_AndReportsTheOther()
    {
        network.Require();
        var node = network.Nodes[3];

        var status = await UntilAsync("node 4 reports eth0 joined without an error", async () =>
        {
            var lan = (await node.GetAsync("/api/network/status"))?["lan"];
            var eth0 = lan?["interfaces"]?.AsArray().FirstOrDefault(i => i!["name"]!.GetValue<string>() == "eth0");
            return eth0?["joined"]?.GetValue<bool>() == true && eth0["error"] is null ? lan : null;
        }, TimeSpan.FromSeconds(30));
        var eth1 = status!["interfaces"]!.AsArray().Single(i => i!["name"]!.GetValue<string>() == "eth1")!;
        var firstId = await network.Nodes[0].IdAsync();
        var peers = await UntilAsync("node 4 finds node 1 over eth0", async () =>
        {
            var found = await node.PeersAsync();
            return found.Any(p => p["id"]!.GetValue<string>() == firstId && Has(p["foundBy"], "lan")) ? found : null;
        }, TimeSpan.FromSeconds(30));

        Assert.False(eth1["joined"]!.GetValue<bool>());
        Assert.Contains("multicast is off on eth1", eth1["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("10.78.0.4", eth1["addresses"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.NotEmpty(peers!);
    }

    [Fact(Timeout = Timeout)]
    public async Task NetworkDiagnostics_ReportsLanDiscoveryPerInterface()
    {
        network.Require();
        var node = network.Nodes[3];
        await UntilAsync("node 4 reports eth0 joined without an error", async () =>
        {
            var eth0 = (await node.GetAsync("/api/network/status"))?["lan"]?["interfaces"]?.AsArray().FirstOrDefault(i => i!["name"]!.GetValue<string>() == "eth0");
            return eth0?["joined"]?.GetValue<bool>() == true && eth0["error"] is null;
        }, TimeSpan.FromSeconds(30));

        var (exitCode, output) = await Cli.RunProgramAsync("ip", node.Process.DataDirectory, new Dictionary<string, string>
        {
            ["LAN_DISCOVERY_ENABLED"] = "true",
            ["DATA_DIR"] = Path.Combine(node.Process.DataDirectory, "data"),
        }, TimeSpan.FromSeconds(60), "netns", "exec", node.Namespace, "dotnet", NodeProcess.DllPath(), "network-diagnostics", "--url", $"http://127.0.0.1:{LanNetwork.ApiPort}");

        Assert.True(exitCode == 0, output);
        Assert.Matches(@"ok\s+eth0\s+joined 224\.0\.0\.251/ff02::fb, announcing 10\.77\.0\.4", output);
        Assert.Matches(@"FAIL\s+eth1\s+not joined: multicast is off on eth1", output);
        Assert.Matches(@"ok\s+peers\s+\d+ found on the LAN", output);
    }

    [Fact(Timeout = Timeout)]
    public async Task ZeroconfBrowser_SeesEveryNode_WithTheTxtKeys()
    {
        network.Require();
        var labels = new List<string>();
        foreach (var node in network.Nodes.Take(3))
        {
            labels.Add($"tenzro-{(await node.IdAsync())[..16]}._tenzro._tcp.local.");
        }

        var found = await UntilAsync("python3-zeroconf lists the three nodes", async () =>
        {
            var output = await LanNetwork.RunAsync("ip", ["netns", "exec", network.Switch, "/usr/bin/python3", LanNetwork.Helper, "browse", "10.77.0.254", "3"], timeout: TimeSpan.FromSeconds(40));
            var services = JsonNode.Parse(output)!.AsObject();
            return labels.All(services.ContainsKey) ? services : null;
        }, TimeSpan.FromSeconds(60));

        var first = found![labels[0]]!.AsObject();
        Assert.All(TxtKeys, key => Assert.True(first.ContainsKey(key), $"TXT key {key} is missing: {first.ToJsonString()}"));
        Assert.Equal(await network.Nodes[0].IdAsync(), first["id"]!.GetValue<string>());
        Assert.Equal("8081", first["port"]!.GetValue<string>());
        Assert.Equal("1.0", first["v"]!.GetValue<string>());
    }

    [Fact(Timeout = Timeout)]
    public async Task ForgedMalformedAndOversizedPackets_AreDroppedAndCounted()
    {
        network.Require();
        var node = network.Nodes[0];
        var forgedId = (await SendAsync("forged")).Trim();
        await SendAsync("malformed");
        await SendAsync("oversized");

        await UntilAsync("node 1 counts a bad signature, a malformed and an oversized packet on eth0", async () =>
        {
            var metrics = (await node.GetAsync("/metrics"))?.GetValue<string>() ?? "";
            return new[] { "bad_signature", "malformed", "oversized" }.All(reason => Dropped(metrics, reason) >= 1);
        }, TimeSpan.FromSeconds(20));
        var peers = await node.PeersAsync();

        Assert.Equal(64, forgedId.Length);
        Assert.DoesNotContain(peers, p => p["id"]!.GetValue<string>() == forgedId);
    }

    [Fact(Timeout = Timeout)]
    public async Task StoppedNode_SaysGoodbye_AndLeavesTheOthersAtOnce()
    {
        network.Require();
        var leaving = network.Nodes[4];
        var id = await leaving.IdAsync();
        var watcher = network.Nodes[0];
        await UntilAsync("node 1 lists node 5 as found on the LAN", async () => (await watcher.PeersAsync()).Any(p => p["id"]!.GetValue<string>() == id && Has(p["foundBy"], "lan")), TimeSpan.FromSeconds(30));

        await leaving.Process.SignalAsync(15);
        Assert.True(await leaving.Process.WaitForExitAsync(TimeSpan.FromSeconds(20)));

        await UntilAsync("node 1 drops node 5", async () => (await watcher.PeersAsync()).All(p => !(p["id"]!.GetValue<string>() == id && Has(p["foundBy"], "lan"))), TimeSpan.FromSeconds(20));
        Assert.Contains($"LAN peer {id[..16]} gone: it said goodbye", watcher.Process.Output, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeout)]
    public async Task KilledNode_LeavesTheOthersTables_WhenItsRecordsExpire()
    {
        network.Require();
        var killed = network.Nodes[5];
        var id = await killed.IdAsync();
        var watchers = network.Nodes.Take(2).ToList();
        foreach (var watcher in watchers)
        {
            await UntilAsync($"{watcher.Namespace} is linked to node 6", async () => (await watcher.PeersAsync()).Any(p => p["id"]!.GetValue<string>() == id && p["link"]!.GetValue<string>() == "open"), TimeSpan.FromSeconds(30));
        }

        await killed.Process.SignalAsync(9);
        Assert.True(await killed.Process.WaitForExitAsync(TimeSpan.FromSeconds(10)));

        foreach (var watcher in watchers)
        {
            await UntilAsync($"{watcher.Namespace} drops node 6", async () => (await watcher.PeersAsync()).All(p => p["id"]!.GetValue<string>() != id || (!Has(p["foundBy"], "lan") && p["link"]!.GetValue<string>() != "open")), TimeSpan.FromSeconds(20));
            Assert.Contains($"LAN peer {id[..16]} gone: not heard from", watcher.Process.Output, StringComparison.Ordinal);
        }
    }

    private Task<string> SendAsync(string kind) =>
        LanNetwork.RunAsync("ip", ["netns", "exec", network.Switch, "/usr/bin/python3", LanNetwork.Helper, "send", "10.77.0.254", kind]);

    private static bool Has(JsonNode? array, string value) => array is JsonArray a && a.Any(v => v?.GetValue<string>() == value);

    private static double Dropped(string metrics, string reason) =>
        DroppedLine().Matches(metrics)
            .Where(m => m.Groups["labels"].Value.Contains($"reason=\"{reason}\"", StringComparison.Ordinal) && m.Groups["labels"].Value.Contains("interface=\"eth0\"", StringComparison.Ordinal))
            .Sum(m => double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));

    private static async Task<T?> UntilAsync<T>(string what, Func<Task<T?>> probe, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        T? last = default;
        while (DateTime.UtcNow < deadline)
        {
            last = await probe();
            if (last is not null && !(last is bool b && !b))
            {
                return last;
            }

            await Task.Delay(250);
        }

        Assert.Fail($"{what}: not within {timeout.TotalSeconds:F0} s");
        return last;
    }

    [GeneratedRegex(@"^tenzro_lan_dropped_total\{(?<labels>[^}]*)\} (?<value>[0-9.e+]+)", RegexOptions.Multiline)]
    private static partial Regex DroppedLine();
}
