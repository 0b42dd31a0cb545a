using System.Text.Json.Nodes;
using Tenzro.Node.DevNetwork;

namespace Tenzro.Node.Tests.DevNetwork;

[Trait("Suite", "operations")]
public sealed class LocalNetworkTests
{
    [Fact]
    public void PeerEntries_EarlierNodes_AreTenzroUrlsOnLoopbackInStartOrder()
    {
        var first = new string('a', 64);
        var second = new string('b', 64);

        var entries = LocalNetwork.PeerEntries([(first, 40001), (second, 40002)]);

        Assert.Equal([$"tenzro://{first}@127.0.0.1:40001", $"tenzro://{second}@127.0.0.1:40002"], entries);
        Assert.Empty(LocalNetwork.PeerEntries([]));
    }

    [Fact]
    public void NodeEnvironment_KeepsEveryNodeOnLoopbackWithItsOwnPortsAndData()
    {
        var environment = LocalNetwork.NodeEnvironment(new Uri("ws://127.0.0.1:9000/ws"), 18080, 18081, "/tmp/dev/node-1", []);

        Assert.Equal("127.0.0.1", environment["HOST"]);
        Assert.Equal("18080", environment["PORT"]);
        Assert.Equal("18081", environment["LOCAL_DISCOVERY_PORT"]);
        Assert.Equal("/tmp/dev/node-1/data", environment["DATA_DIR"]);
        Assert.Equal("false", environment["LAN_DISCOVERY_ENABLED"]);
        Assert.Equal("false", environment["DHT_ENABLED"]);
        Assert.Equal("127.0.0.1", environment["P2P_HOST"]);
        Assert.Equal("false", environment["BENCHMARK_ON_START"]);
        Assert.Equal("ws://127.0.0.1:9000/ws", environment["REGIONAL_NODE_URL"]);
        Assert.False(environment.ContainsKey("BOOTSTRAP_NODES"));
    }

    [Fact]
    public void WithDefaults_HandWrittenTask_GetsIdRequirementsRewardAndStatusButKeepsItsFields()
    {
        var task = DevRegionalNode.WithDefaults(new JsonObject { ["type"] = "store", ["requirements"] = new JsonObject { ["maxNodes"] = 2 } });

        Assert.StartsWith("dev-", task["taskId"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(2, task["requirements"]!["maxNodes"]!.GetValue<int>());
        Assert.Equal("pending", task["status"]!["state"]!.GetValue<string>());
        Assert.NotNull(task["reward"]);
        Assert.NotNull(task["expiry"]);
    }
}
