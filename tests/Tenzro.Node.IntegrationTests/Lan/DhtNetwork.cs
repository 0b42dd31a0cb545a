namespace Tenzro.Node.IntegrationTests.Lan;

/// <summary>
/// Five node namespaces on the test bridge (<see cref="LanNetwork"/>) for the DHT's process tests: each node runs the
/// DHT on its own address with LAN discovery off, so that only the DHT can make them find each other, and every
/// datagram stays on the bridge the test made. Node 1 is the bootstrap node (<see cref="Bootstrap"/>); node 3 offers
/// the training tier, the others inference.
/// </summary>
public sealed class DhtNetwork() : LanNetwork("dh", 5)
{
    public const int P2pPort = 8081;

    public static string Bootstrap => $"udp://10.77.0.1:{P2pPort}";

    protected override async Task StartNodesAsync()
    {
        for (var i = 0; i < Namespaces.Count; i++)
        {
            Nodes.Add(Launch(i, i == 0 ? null : Bootstrap, i == 2 ? "training" : "inference"));
        }

        foreach (var node in Nodes)
        {
            await node.WaitHealthyAsync(TimeSpan.FromSeconds(60));
        }
    }

    /// <summary>
    /// Starts node <paramref name="index"/> (from 0) in its namespace; with <paramref name="dataDirectory"/> it is the
    /// same node restarted, and with no <paramref name="bootstrap"/> it has only its saved routing table to rejoin from.
    /// </summary>
    public LanNode Launch(int index, string? bootstrap, string tier, string? dataDirectory = null, int p2pPort = P2pPort)
    {
        var address = $"10.77.0.{index + 1}";
        var environment = new Dictionary<string, string>
        {
            ["P2P_HOST"] = address,
            ["LOCAL_DISCOVERY_PORT"] = p2pPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["LAN_DISCOVERY_ENABLED"] = "false",
            ["DHT_ENABLED"] = "true",
            ["DHT_REFRESH_INTERVAL"] = "2000",
            ["NODE_TIER"] = tier,
        };
        if (bootstrap is not null)
        {
            environment["BOOTSTRAP_NODES"] = bootstrap;
        }

        var process = NodeProcess.LaunchUnder(["ip", "netns", "exec", Namespaces[index]], environment, dataDirectory, port: ApiPort);
        return new LanNode(Namespaces[index], address, process);
    }
}
