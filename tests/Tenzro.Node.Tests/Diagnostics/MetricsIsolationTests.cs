using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Diagnostics;

/// <summary>Each node's metrics count that node only, even with several nodes in one process (tests, embedders).</summary>
[Trait("Suite", "metrics")]
public sealed class MetricsIsolationTests
{
    private static long Submitted(System.Text.Json.Nodes.JsonObject metrics) =>
        metrics["metrics"]?["tenzro.tasks.submitted"]?["points"]?.AsArray().Sum(p => p!["value"]!.GetValue<long>()) ?? 0;

    [Fact]
    public async Task TwoNodesInOneProcess_EachCountsOnlyItsOwnTasks()
    {
        await using var busy = await TestNode.StartAsync();
        await using var quiet = await TestNode.StartAsync();

        for (var i = 0; i < 3; i++)
        {
            await busy.Client.SubmitAsync("""{"type":"store","data":{"content":"x"}}""", "?wait=10s");
        }

        var busyCount = Submitted(await busy.Client.GetJsonAsync("/api/metrics"));
        var quietCount = Submitted(await quiet.Client.GetJsonAsync("/api/metrics"));

        Assert.Equal(3, busyCount);
        Assert.Equal(0, quietCount);
    }
}
