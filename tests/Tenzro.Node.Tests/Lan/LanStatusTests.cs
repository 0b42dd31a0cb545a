using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Lan;

[Trait("Suite", "lan")]
public sealed class LanStatusTests
{
    [Fact]
    public async Task Status_StandaloneNodeWithAuto_ReportsLanOffWithNoInterface()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["LAN_DISCOVERY_ENABLED"] = "auto" });

        var lan = (await node.Client.GetJsonAsync("/api/network/status"))["lan"]!;

        Assert.False(lan["enabled"]!.GetValue<bool>());
        Assert.Equal("off", lan["state"]!.GetValue<string>());
        Assert.Empty(lan["interfaces"]!.AsArray());
        Assert.Equal(0, lan["peers"]!.GetValue<int>());
    }

    [Fact]
    public void PeerTable_Lost_RemovesAnEntryOnlyLanKnew_AndKeepsOneOthersKnowOrThatIsLinked()
    {
        var table = new PeerTable(new FakeTimeProvider());
        table.Found("a", PeerSource.Lan, ["10.0.0.1:8081"]);
        table.Found("b", PeerSource.Lan);
        table.Found("b", PeerSource.Inbound);
        table.Found("c", PeerSource.Lan);
        table.Update("c", e => e with { Link = PeerLinkState.Open });

        table.Lost("a", PeerSource.Lan);
        table.Lost("b", PeerSource.Lan);
        table.Lost("c", PeerSource.Lan);

        Assert.Null(table.Get("a"));
        Assert.Equal(["inbound"], table.Get("b")!.FoundBy);
        Assert.Empty(table.Get("c")!.FoundBy);
        Assert.Equal(PeerLinkState.Open, table.Get("c")!.Link);
    }
}
