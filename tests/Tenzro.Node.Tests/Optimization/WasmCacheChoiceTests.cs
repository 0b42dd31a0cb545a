using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Runtimes.Wasm;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Optimization;

[Trait("Suite", "optimization")]
public sealed class WasmCacheChoiceTests
{
    private static JsonObject Choice(JsonObject profile, string name) =>
        profile["optimizations"]!.AsArray().Select(o => o!.AsObject()).Single(o => o["name"]!.GetValue<string>() == name);

    [Theory]
    [InlineData(500L * 1024, 1024)] // a 500 GB free disk: capped at 1 GB
    [InlineData(20L * 1024, 204)] // 20 GB free: 1 %
    [InlineData(1024, 64)] // 1 GB free: the floor
    [InlineData(0, 64)]
    public void DiskRule_OnePercentOfTheFreeSpace_From64MBTo1GB(long freeMB, long expectedMB)
    {
        var budget = WasmCacheChoice.DiskRule(freeMB);

        Assert.Equal(expectedMB, budget.MB);
        Assert.Contains($"{freeMB} MB free", budget.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void DiskBudget_SettingGiven_WinsOverTheRule()
    {
        var budget = WasmCacheChoice.DiskBudget(new TaskOptions { WasmCacheMB = 5 }, Path.GetTempPath());

        Assert.Equal(5, budget.MB);
        Assert.Equal("WASM_CACHE_MB is set", budget.Reason);
    }

    [Fact]
    public void DiskBudget_Auto_ReadsTheFreeSpaceOfTheDataDirectorysDisk()
    {
        var freeMB = new DriveInfo(Path.GetTempPath()).AvailableFreeSpace / (1024 * 1024);

        var budget = WasmCacheChoice.DiskBudget(new TaskOptions(), Path.GetTempPath());

        Assert.Equal(WasmCacheChoice.DiskRule(freeMB).MB, budget.MB, tolerance: 1);
        Assert.Contains("1 % of the", budget.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Profile_WasmCacheMBSet_ListsTheBudgetAndTheSetting()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["WASM_CACHE_MB"] = "100" });

        var choice = Choice(await node.Client.GetJsonAsync("/api/hardware/profile"), "wasmModuleCache");

        Assert.Contains("100 MB on disk", choice["value"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.StartsWith("WASM_CACHE_MB is set", choice["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("WASM_CACHE_MB", choice["setting"]!.GetValue<string>());
    }

    [Fact]
    public void Load_WasmCacheMBNotANumber_NamesTheKeyAndTheExpectedValue()
    {
        var error = Assert.Throws<ConfigurationException>(() => NodeSettings.Load(
            new ConfigurationBuilder().AddInMemoryCollection([new("WASM_CACHE_MB", "lots")]).Build(), "/base"));

        Assert.Contains("WASM_CACHE_MB: 'lots'", error.Message, StringComparison.Ordinal);
        Assert.Contains("auto", error.Message, StringComparison.Ordinal);
    }
}
