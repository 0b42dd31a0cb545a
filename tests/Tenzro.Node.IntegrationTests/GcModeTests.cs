namespace Tenzro.Node.IntegrationTests;

/// <summary>GC_MODE: the node restarts itself in place under the collector chosen.</summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class GcModeTests
{
    private static async Task<System.Text.Json.Nodes.JsonObject> GcChoiceOf(NodeProcess node)
    {
        var profile = System.Text.Json.Nodes.JsonNode.Parse(await node.Client.GetStringAsync("/api/hardware/profile"))!;
        return profile["optimizations"]!.AsArray().Select(o => o!.AsObject()).Single(o => o["name"]!.GetValue<string>() == "dotnetGc");
    }

    [Fact]
    public async Task Start_GcModeServer_RunsTheServerCollectorInTheSameProcess()
    {
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string> { ["GC_MODE"] = "server" });

        var choice = await GcChoiceOf(node);
        var environment = await File.ReadAllTextAsync($"/proc/{node.Pid}/environ");

        Assert.StartsWith("server", choice["value"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.StartsWith("GC_MODE is set", choice["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("GC_MODE", choice["setting"]!.GetValue<string>());
        Assert.False(node.HasExited); // the process started is the one serving: replaced in place, not forked
        Assert.Contains("DOTNET_gcServer=1", environment, StringComparison.Ordinal);
        Assert.DoesNotContain("GC_MODE:", node.Output, StringComparison.Ordinal); // no restart failure reported
    }

    [Fact]
    public async Task Start_GcModeAuto_RunsTheCollectorTheRuleGivesForThisMachine()
    {
        var expected = Hosting.GcChoice.Decide("auto", Environment.ProcessorCount, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, null);
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string> { ["GC_MODE"] = "auto" });

        var choice = await GcChoiceOf(node);
        var environment = await File.ReadAllTextAsync($"/proc/{node.Pid}/environ");

        Assert.StartsWith(expected.Server ? "server" : "workstation", choice["value"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("seen by the runtime", choice["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(expected.Server, environment.Contains("TENZRO_GC_RESTARTED=1", StringComparison.Ordinal)); // restarted only to change the collector
    }
}
