using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests;

/// <summary><c>health-check</c> on a degraded node: exit 0, or 1 with <c>--strict</c> (CONTRACTS "Reliability codes").</summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class HealthCheckStrictTests
{
    [Fact]
    public async Task HealthCheck_DegradedNode_Exits0AndWithStrictExits1()
    {
        // A regional node that is never there: the link fails after one attempt, which makes the node degraded.
        var environment = new Dictionary<string, string>(DatabaseDamageTests.Loopback)
        {
            ["REGIONAL_NODE_URL"] = $"ws://127.0.0.1:{NodeProcess.FreePort()}/ws",
            ["MAX_RECONNECT_ATTEMPTS"] = "1",
            ["RECONNECT_INTERVAL"] = "100",
        };
        await using var node = await NodeProcess.StartAsync(environment);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        string? status = null;
        while (DateTime.UtcNow < deadline && status != "degraded")
        {
            status = (await node.Client.GetFromJsonAsync<JsonObject>("/health"))!["status"]!.GetValue<string>();
            await Task.Delay(100);
        }

        var (plainCode, plainOut) = await Cli.RunAsync("health-check", "--url", node.BaseAddress.ToString());
        var (strictCode, strictOut) = await Cli.RunAsync("health-check", "--strict", "--url", node.BaseAddress.ToString());

        Assert.Equal("degraded", status);
        Assert.Equal(0, plainCode);
        Assert.Contains("node: degraded", plainOut);
        Assert.Equal(1, strictCode);
        Assert.Contains("node: degraded", strictOut);
    }
}
