using System.Net;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Tasks;

[Trait("Suite", "tasks")]
public sealed class StoreTaskTests
{
    [Fact]
    public async Task Store_RetentionEnded_BlobIsSwept()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["RESULT_RETENTION_PERIOD"] = "4" });

        var (_, body) = await node.Client.SubmitAsync("""{"type":"store","data":{"content":"short-lived","retention":1}}""", "?wait=5s");
        var sha = body!["result"]!["sha256"]!.GetValue<string>();
        var before = await node.Client.GetAsync($"/api/blobs/{sha}", Timeouts.Token());
        var deadline = DateTime.UtcNow + Timeouts.Short;
        HttpStatusCode after;
        do
        {
            await Task.Delay(250);
            after = (await node.Client.GetAsync($"/api/blobs/{sha}", Timeouts.Token())).StatusCode;
        }
        while (after == HttpStatusCode.OK && DateTime.UtcNow < deadline);

        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, after);
    }

    [Fact]
    public async Task Store_BeyondTheLentStorage_FailsNamingTheQuota()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["MAX_STORAGE_GB"] = "0.001", ["QUOTA_STORED_BYTES"] = "100000000" });

        var (_, body) = await node.Client.SubmitAsync("{\"type\":\"store\",\"data\":{\"content\":\"" + new string('z', 1_100_000) + "\"}}", "?wait=5s");
        var (_, small) = await node.Client.SubmitAsync("""{"type":"store","data":{"content":"fits"}}""", "?wait=5s");

        Assert.Equal("failed", body!["state"]!.GetValue<string>());
        Assert.Contains("MAX_STORAGE_GB", body["error"]!.GetValue<string>());
        Assert.Equal("completed", small!["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task Store_BadRetention_Is422()
    {
        await using var node = await TestNode.StartAsync();

        var (status, body) = await node.Client.SubmitAsync("""{"type":"store","data":{"content":"x","retention":-5}}""");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.NotNull(body!["errors"]!["data.retention"]);
    }
}
