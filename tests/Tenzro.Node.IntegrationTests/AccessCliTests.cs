namespace Tenzro.Node.IntegrationTests;

/// <summary>The CLI against a node that requires keys: the admin token on its machine, TENZRO_API_KEY, --api-key-file.</summary>
[Collection(ProcessCollection.Name)]
public sealed class AccessCliTests
{
    [Fact]
    public async Task Keys_CreateListRevoke_AndEveryWayTheCliSendsAKey()
    {
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string> { ["REQUIRE_AUTH_ON_LOOPBACK"] = "true" });
        var keyFile = Path.Combine(node.DataDirectory, "reader.key");

        var (createCode, created) = await Cli.RunOnAsync(node, "keys", "create", "--role", "reader", "--name", "monitoring", "--expires", "30d");
        var key = created.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).First(l => l.StartsWith("tnz_", StringComparison.Ordinal));
        var id = key.Split('_')[1];
        await File.WriteAllTextAsync(keyFile, key + "\n");
        var (listCode, list) = await Cli.RunOnAsync(node, "keys", "list", "--json");
        var (keylessCode, keyless) = await Cli.RunAsync("status", "--url", node.BaseAddress.ToString());
        var (envCode, _) = await Cli.RunInAsync(null, new Dictionary<string, string> { ["TENZRO_API_KEY"] = key }, "status", "--url", node.BaseAddress.ToString());
        var (fileCode, _) = await Cli.RunAsync("status", "--api-key-file", keyFile, "--url", node.BaseAddress.ToString());
        var (readerDrainCode, readerDrain) = await Cli.RunAsync("drain", "--api-key-file", keyFile, "--url", node.BaseAddress.ToString());
        var (revokeCode, _) = await Cli.RunOnAsync(node, "keys", "revoke", id);
        var (revokedCode, _) = await Cli.RunAsync("status", "--api-key-file", keyFile, "--url", node.BaseAddress.ToString());

        Assert.Equal(0, createCode);
        Assert.Equal(0, listCode);
        Assert.Contains($"\"id\": \"{id}\"", list);
        Assert.DoesNotContain(key, list, StringComparison.Ordinal);
        Assert.NotEqual(0, keylessCode);
        Assert.Contains("401", keyless);
        Assert.Equal(0, envCode);
        Assert.Equal(0, fileCode);
        Assert.NotEqual(0, readerDrainCode);
        Assert.Contains("admin", readerDrain);
        Assert.Equal(0, revokeCode);
        Assert.NotEqual(0, revokedCode);
        Assert.DoesNotContain(key, node.Output, StringComparison.Ordinal);
    }
}
