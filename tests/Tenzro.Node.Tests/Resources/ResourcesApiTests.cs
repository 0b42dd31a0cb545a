using System.Net;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Resources;

[Trait("Suite", "resources")]
public sealed class ResourcesApiTests
{
    [Fact]
    public async Task Limits_ReportCapacityAllowedThresholdsAndQuotas()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["MAX_MEMORY_GB"] = "2", ["MAX_CPU_PERCENT"] = "50" });

        var limits = await node.Client.GetJsonAsync("/api/resources/limits");

        Assert.Equal(Environment.ProcessorCount, limits["capacity"]!["cpuCores"]!.GetValue<int>());
        Assert.Equal(2048, limits["allowed"]!["memoryMB"]!.GetValue<long>());
        Assert.Equal(Environment.ProcessorCount * 0.5, limits["allowed"]!["cpu"]!.GetValue<double>(), 3);
        Assert.Equal(90, limits["thresholds"]!["criticalMemoryPercent"]!.GetValue<double>());
        Assert.Equal(120, limits["quotas"]!["tasksPerMinute"]!.GetValue<int>());
    }

    [Fact]
    public async Task Status_ReportsLiveUsageFromTheSampler()
    {
        await using var node = await TestNode.StartAsync();
        var meminfo = File.ReadAllLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        var memTotal = long.Parse(meminfo.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;

        var status = await node.Client.GetJsonAsync("/api/resources/status");

        Assert.InRange(status["usage"]!["memoryTotalBytes"]!.GetValue<long>(), 1, memTotal);
        Assert.True(status["usage"]!["storageTotalBytes"]!.GetValue<long>() > 0);
        Assert.Empty(status["reservations"]!.AsArray());
        Assert.Null(status["pressure"]);
    }

    [Fact]
    public async Task Submit_RequirementThatCanNeverFit_Is422NamingResourceAmountAndMaximum()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["MAX_MEMORY_GB"] = "1" });

        var (status, body) = await node.Client.SubmitAsync("""{"type":"store","requirements":{"memoryMB":999999999},"data":{"content":"x"}}""");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        var message = body!["errors"]!["requirements.memoryMB"]![0]!.GetValue<string>();
        Assert.Contains("999999999", message);
        Assert.Contains("1024", message);
    }

    [Fact]
    public async Task Submit_OverQuota_Is429WithRetryAfter()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["QUOTA_LOOPBACK"] = "true", ["QUOTA_TASKS_PER_MINUTE"] = "2" });

        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(HttpStatusCode.Accepted, (await node.Client.SubmitAsync("""{"type":"store","data":{"content":"x"}}""")).Status);
        }

        using var content = new StringContent("""{"type":"store","data":{"content":"x"}}""", System.Text.Encoding.UTF8, "application/json");
        var response = await node.Client.PostAsync("/api/tasks/execute", content, Timeouts.Token());

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task Submit_UnderPressure_Is503AndReadinessFailsThenRecovers()
    {
        var usage = new FixedUsage { MemoryUsedPercent = 95 };
        await using var node = await TestNode.StartAsync(configure: builder => builder.Services.AddSingleton<IUsageSource>(usage));
        node.Service<ResourceSampler>().SampleNow();

        using var content = new StringContent("""{"type":"store","data":{"content":"x"}}""", System.Text.Encoding.UTF8, "application/json");
        var refused = await node.Client.PostAsync("/api/tasks/execute", content, Timeouts.Token());
        var ready = await node.Client.GetAsync("/health/ready", Timeouts.Token());
        usage.MemoryUsedPercent = 50;
        node.Service<ResourceSampler>().SampleNow();
        var readyAgain = await node.Client.GetAsync("/health/ready", Timeouts.Token());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Contains("CRITICAL_MEMORY_PERCENT", await refused.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal(HttpStatusCode.OK, readyAgain.StatusCode);
    }

    [Fact]
    public async Task EveryEndOfATask_ReleasesItsReservation()
    {
        var (node, runtime) = await ScriptedRuntime.StartNodeAsync();
        await using var _ = node;
        var ledger = node.Service<IResourceLedger>();

        var completed = (await node.Client.SubmitAsync("""{"type":"script","data":{"action":"complete","value":1}}""")).Body!["taskId"]!.GetValue<string>();
        var failed = (await node.Client.SubmitAsync("""{"type":"script","data":{"action":"fail"}}""")).Body!["taskId"]!.GetValue<string>();
        var timedOut = (await node.Client.SubmitAsync("""{"type":"script","timeout":0.3,"data":{"action":"hang"}}""")).Body!["taskId"]!.GetValue<string>();
        var cancelled = (await node.Client.SubmitAsync("""{"type":"script","data":{"action":"gate","gate":"never"}}""")).Body!["taskId"]!.GetValue<string>();
        await WaitUntilAsync(() => ledger.Reservations.Any(r => r.TaskId == cancelled));
        await node.Client.DeleteAsync($"/api/tasks/{cancelled}", Timeouts.Token());

        Assert.Equal("completed", (await node.Client.WaitFinalAsync(completed))["state"]!.GetValue<string>());
        Assert.Equal("failed", (await node.Client.WaitFinalAsync(failed))["state"]!.GetValue<string>());
        Assert.Equal("timed_out", (await node.Client.WaitFinalAsync(timedOut))["state"]!.GetValue<string>());
        Assert.Equal("cancelled", (await node.Client.WaitFinalAsync(cancelled))["state"]!.GetValue<string>());
        await WaitUntilAsync(() => ledger.Reservations.Count == 0);
        Assert.Equal(ledger.Allowed, ledger.Free);
        Assert.Equal(4, runtime.Started.Count);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeouts.Short;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("condition not met in time");
            }

            await Task.Delay(10);
        }
    }
}
