using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Http;

[Trait("Suite", "http")]
public sealed class HealthTransitionTests
{
    [Fact]
    public async Task Health_MemoryAboveCritical_DegradesNamingTheComponentAndRecovers()
    {
        var usage = new FixedUsage();
        await using var node = await TestNode.StartAsync(configure: builder => builder.Services.AddSingleton<IUsageSource>(usage));
        var sampler = node.Service<ResourceSampler>();

        usage.MemoryUsedPercent = 97;
        sampler.SampleNow();
        var degraded = await node.Client.GetAsync("/health", Timeouts.Token());
        var degradedBody = await TaskApi.ReadAsync(degraded);
        var notReady = await node.Client.GetAsync("/health/ready", Timeouts.Token());

        usage.MemoryUsedPercent = 20;
        sampler.SampleNow();
        var recovered = await TaskApi.ReadAsync(await node.Client.GetAsync("/health", Timeouts.Token()));
        var ready = await node.Client.GetAsync("/health/ready", Timeouts.Token());

        Assert.Equal(HttpStatusCode.OK, degraded.StatusCode);
        Assert.Equal("degraded", degradedBody!["status"]!.GetValue<string>());
        Assert.Equal("degraded", degradedBody["checks"]!["memory"]!["status"]!.GetValue<string>());
        Assert.Contains("97.0% of memory in use", degradedBody["checks"]!["memory"]!["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        Assert.Equal("healthy", recovered!["status"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public async Task Health_StoreCannotBeWritten_IsUnhealthy503NamingTheStoreAndRecovers()
    {
        await using var node = await TestNode.StartAsync();
        await using var blocker = new SqliteConnection($"Data Source={Path.Combine(node.DataDirectory, "node.db")};Pooling=False");
        await blocker.OpenAsync(Timeouts.Token());
        await using (var hold = blocker.CreateCommand())
        {
            // Another process holding SQLite's write lock past the node's busy timeout (10 s): the node cannot write.
            hold.CommandText = "BEGIN EXCLUSIVE;";
            await hold.ExecuteNonQueryAsync(Timeouts.Token());
        }

        var (unhealthyStatus, unhealthy) = await WaitForHealthAsync(node.Client, HttpStatusCode.ServiceUnavailable);
        // With the lock still held, a caller gets the last result instead of waiting on the next probe (5 s).
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var notReady = await node.Client.GetAsync("/health/ready", Timeouts.Token(Timeouts.Long));
        var answeredIn = watch.Elapsed;
        await using (var release = blocker.CreateCommand())
        {
            release.CommandText = "ROLLBACK;";
            await release.ExecuteNonQueryAsync(Timeouts.Token());
        }

        var (recoveredStatus, recovered) = await WaitForHealthAsync(node.Client, HttpStatusCode.OK);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, unhealthyStatus);
        Assert.Equal("unhealthy", unhealthy["status"]!.GetValue<string>());
        Assert.Equal("unhealthy", unhealthy["checks"]!["store"]!["status"]!.GetValue<string>());
        Assert.Contains("node.db is not writable", unhealthy["checks"]!["store"]!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("locked", unhealthy["checks"]!["store"]!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        Assert.True(answeredIn < TimeSpan.FromSeconds(4), $"/health/ready waited {answeredIn.TotalSeconds:F1} s on the locked store");
        Assert.Equal(HttpStatusCode.OK, recoveredStatus);
        Assert.Equal("healthy", recovered["checks"]!["store"]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Health_StoreRefusesTheProbeWrite_IsUnhealthy503NamingTheErrorAndRecovers()
    {
        await using var node = await TestNode.StartAsync();
        await using var store = new SqliteConnection($"Data Source={Path.Combine(node.DataDirectory, "node.db")};Pooling=False");
        await store.OpenAsync(Timeouts.Token());
        await using (var refuse = store.CreateCommand())
        {
            // The store refuses the write itself, as SQLite does when the disk is full: a real trigger.
            refuse.CommandText = "CREATE TRIGGER refuse_probe BEFORE INSERT ON health_probe BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;";
            await refuse.ExecuteNonQueryAsync(Timeouts.Token());
        }

        var (unhealthyStatus, unhealthy) = await WaitForHealthAsync(node.Client, HttpStatusCode.ServiceUnavailable);
        await using (var allow = store.CreateCommand())
        {
            allow.CommandText = "DROP TRIGGER refuse_probe;";
            await allow.ExecuteNonQueryAsync(Timeouts.Token());
        }

        var (recoveredStatus, recovered) = await WaitForHealthAsync(node.Client, HttpStatusCode.OK);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, unhealthyStatus);
        Assert.Equal("unhealthy", unhealthy["checks"]!["store"]!["status"]!.GetValue<string>());
        Assert.Contains("database or disk is full", unhealthy["checks"]!["store"]!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, recoveredStatus);
        Assert.Equal("healthy", recovered["checks"]!["store"]!["status"]!.GetValue<string>());
    }

    /// <summary>Polls /health until it answers <paramref name="status"/>; fails the test after a minute.</summary>
    private static async Task<(HttpStatusCode Status, JsonObject Body)> WaitForHealthAsync(HttpClient client, HttpStatusCode status)
    {
        var deadline = DateTime.UtcNow + Timeouts.Long;
        while (DateTime.UtcNow < deadline)
        {
            using var response = await client.GetAsync("/health", Timeouts.Token(Timeouts.Long));
            if (response.StatusCode == status)
            {
                return (response.StatusCode, (await TaskApi.ReadAsync(response))!);
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"/health did not answer {(int)status} within {Timeouts.Long}");
    }
}
