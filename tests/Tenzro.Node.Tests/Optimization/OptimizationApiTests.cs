using System.Text.Json.Nodes;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Optimization;

[Trait("Suite", "optimization")]
public sealed class OptimizationApiTests
{
    private static JsonObject Choice(JsonObject profile, string name) =>
        profile["optimizations"]!.AsArray().Select(o => o!.AsObject()).Single(o => o["name"]!.GetValue<string>() == name);

    [Fact]
    public async Task Profile_MaxConcurrentTasksLeftAuto_ListsTheDerivedSlotsWithTheirInputs()
    {
        await using var node = await TestNode.StartAsync();

        var profile = await node.Client.GetJsonAsync("/api/hardware/profile");
        var slots = Choice(profile, "MAX_CONCURRENT_TASKS");
        var limits = await node.Client.GetJsonAsync("/api/resources/limits");

        Assert.True(slots["value"]!.GetValue<int>() >= 1);
        Assert.Contains("cores allowed", slots["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("MAX_CONCURRENT_TASKS", slots["setting"]!.GetValue<string>());
        Assert.Equal("auto", limits["settings"]!["maxConcurrentTasks"]!.GetValue<string>());
    }

    [Fact]
    public async Task Profile_MaxConcurrentTasksSet_ListsTheSettingAsTheReason()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["MAX_CONCURRENT_TASKS"] = "3" });

        var slots = Choice(await node.Client.GetJsonAsync("/api/hardware/profile"), "MAX_CONCURRENT_TASKS");

        Assert.Equal(3, slots["value"]!.GetValue<int>());
        Assert.Equal("MAX_CONCURRENT_TASKS is set", slots["reason"]!.GetValue<string>());
    }
}
