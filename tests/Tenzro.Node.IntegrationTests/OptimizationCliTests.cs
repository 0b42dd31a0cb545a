namespace Tenzro.Node.IntegrationTests;

/// <summary><c>tenzro-node profile</c> prints what the node tuned from its profile.</summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class OptimizationCliTests
{
    [Fact]
    public async Task Profile_NodeWithMaxConcurrentTasksAuto_PrintsTheOptimizationsTable()
    {
        await using var node = await NodeProcess.StartAsync();

        var (code, output) = await Cli.RunAsync("profile", "--url", node.BaseAddress.ToString());

        Assert.Equal(0, code);
        Assert.Contains("Optimizations", output);
        Assert.Contains("MAX_CONCURRENT_TASKS", output);
        Assert.Contains("cores allowed", output);
        Assert.Contains("ONNX_SESSION_CACHE_MB", output);
    }
}
