using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests;

/// <summary>
/// DATA_DIR on a 40 MB tmpfs in a private mount namespace (<c>unshare -m</c>, as root), nearly filled by a file:
/// submissions get 503 with Retry-After, reads keep working, no acknowledged task is lost, and once the file is
/// removed the node takes and runs tasks again by itself.
/// </summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class FullDiskTests
{
    private static readonly string[] PrivateTmpfs =
    [
        "unshare", "-m", "--propagation", "private", "sh", "-c",
        "mkdir -p \"$DATA_DIR\" && mount -t tmpfs -o size=40m tmpfs \"$DATA_DIR\" && head -c 30M /dev/zero > \"$DATA_DIR/filler\" && exec \"$0\" \"$@\"",
    ];

    [Fact]
    public async Task FullDisk_Submissions_Are503WithRetryAfterReadsWorkAndTheNodeRecovers()
    {
        if (Environment.UserName != "root")
        {
            Assert.Fail("this test mounts a tmpfs in a private mount namespace and needs root");
        }

        var environment = new Dictionary<string, string>(DatabaseDamageTests.Loopback) { ["LOG_LEVEL"] = "warning" };
        await using var node = NodeProcess.LaunchUnder(PrivateTmpfs, environment);
        await node.WaitHealthyAsync(TimeSpan.FromSeconds(60));
        var content = new string('x', 512 * 1024);
        var acknowledged = new List<string>();
        HttpResponseMessage? refusal = null;
        for (var i = 0; i < 200 && refusal is null; i++)
        {
            var response = await node.Client.PostAsJsonAsync("/api/tasks/execute", new { taskId = $"fill-{i}", type = "store", data = new { content = content + i } });
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                acknowledged.Add($"fill-{i}");
            }
            else
            {
                refusal = response;
            }
        }

        var refusalBody = refusal is null ? null : await refusal.Content.ReadAsStringAsync();
        using var status = await node.Client.GetAsync("/status");
        using var read = await node.Client.GetAsync($"/api/tasks/{acknowledged[0]}");

        File.Delete($"/proc/{node.Pid}/root{Path.Combine(node.DataDirectory, "data", "filler")}");
        // A client that honours Retry-After tries again; the node sees the space within its storage sampling interval.
        HttpResponseMessage after;
        var retryUntil = DateTime.UtcNow.AddSeconds(60);
        do
        {
            await Task.Delay(500);
            after = await node.Client.PostAsJsonAsync("/api/tasks/execute", new { taskId = "after", type = "store", data = new { content = "space is back" } });
        }
        while (after.StatusCode == HttpStatusCode.ServiceUnavailable && DateTime.UtcNow < retryUntil);

        var states = new Dictionary<string, string>();
        var errors = new Dictionary<string, string?>();
        foreach (var id in after.IsSuccessStatusCode ? acknowledged.Append("after") : acknowledged)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            string state;
            do
            {
                var task = (await node.Client.GetFromJsonAsync<JsonObject>($"/api/tasks/{id}"))!;
                state = task["state"]!.GetValue<string>();
                errors[id] = task["error"]?.ToString();
                await Task.Delay(50);
            }
            while (state is "queued" or "running" or "pending" && DateTime.UtcNow < deadline);
            states[id] = state;
        }

        Assert.NotNull(refusal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refusal!.StatusCode);
        Assert.NotNull(refusal.Headers.RetryAfter);
        Assert.Equal("application/problem+json", refusal.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.True(after.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted, $"after space returned: {(int)after.StatusCode} {await after.Content.ReadAsStringAsync()}\nwhen full: {refusalBody}");
        Assert.All(states, pair => Assert.True(pair.Value == "completed", $"{pair.Key} is {pair.Value}: {errors.GetValueOrDefault(pair.Key)}"));
        Assert.DoesNotContain("Unhandled error", node.Output);
    }

    [Fact]
    public async Task FullDisk_Health_IsUnhealthy503NamingTheFullDiskAndRecoversWhenSpaceReturns()
    {
        if (Environment.UserName != "root")
        {
            Assert.Fail("this test mounts a tmpfs in a private mount namespace and needs root");
        }

        var environment = new Dictionary<string, string>(DatabaseDamageTests.Loopback) { ["LOG_LEVEL"] = "warning" };
        await using var node = NodeProcess.LaunchUnder(PrivateTmpfs, environment);
        await node.WaitHealthyAsync(TimeSpan.FromSeconds(60));
        var rest = $"/proc/{node.Pid}/root{Path.Combine(node.DataDirectory, "data", "rest")}";
        try
        {
            // Fill the tmpfs to its last page, as a disk that is completely full.
            await using var file = new FileStream(rest, FileMode.Create, FileAccess.Write);
            var chunk = new byte[64 * 1024];
            while (true)
            {
                file.Write(chunk);
                file.Flush(flushToDisk: true);
            }
        }
        catch (IOException)
        {
        }

        var (fullStatus, full) = await WaitForHealthAsync(node, HttpStatusCode.ServiceUnavailable);
        File.Delete(rest);
        var (recoveredStatus, recovered) = await WaitForHealthAsync(node, HttpStatusCode.OK);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, fullStatus);
        Assert.Equal("unhealthy", full["checks"]!["store"]!["status"]!.GetValue<string>());
        Assert.Matches("No space left on device|database or disk is full", full["checks"]!["store"]!["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, recoveredStatus);
        Assert.Equal("healthy", recovered["checks"]!["store"]!["status"]!.GetValue<string>());
        Assert.DoesNotContain("Unhandled error", node.Output);
    }

    /// <summary>Polls /health until it answers <paramref name="status"/>; fails the test after a minute.</summary>
    private static async Task<(HttpStatusCode Status, JsonObject Body)> WaitForHealthAsync(NodeProcess node, HttpStatusCode status)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            using var response = await node.Client.GetAsync("/health");
            if (response.StatusCode == status)
            {
                return (response.StatusCode, (await response.Content.ReadFromJsonAsync<JsonObject>())!);
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"/health did not answer {(int)status} within 60 s:\n{node.Output}");
    }
}
