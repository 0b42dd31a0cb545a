using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests;

[Collection(ProcessCollection.Name)]
[Trait("Suite", "metrics")]
public sealed class MetricsTests
{
    public const string PromtoolPath = "/usr/bin/promtool";

    [Fact]
    public async Task Metrics_PrometheusText_PassesPromtoolAndCountsTasks()
    {
        Assert.True(File.Exists(PromtoolPath), $"{PromtoolPath} is missing: install Debian's prometheus package (apt-get install prometheus), as .ci/run does.");
        await using var node = await NodeProcess.StartAsync();
        var submitted = await node.Client.PostAsJsonAsync("/api/tasks/execute?wait=5s", new { type = "store", data = new { content = "metrics" } });
        var state = (await submitted.Content.ReadFromJsonAsync<JsonObject>())!["state"]!.GetValue<string>();

        var text = await node.Client.GetStringAsync("/metrics");
        var (code, lint) = await PromtoolAsync(text);

        Assert.Equal("completed", state);
        Assert.True(code == 0, "promtool rejected /metrics: " + lint);
        var lines = text.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("tenzro_tasks_completed_total{", StringComparison.Ordinal) && l.Contains("type=\"store\"", StringComparison.Ordinal) && l.EndsWith(" 1", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("tenzro_task_duration_seconds_bucket{", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("http_server_request_duration_seconds_count{", StringComparison.Ordinal) && l.Contains("http_route=\"/api/tasks/execute\"", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("tenzro_host_memory_total_bytes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ApiMetrics_JsonAgreesWithThePrometheusText()
    {
        await using var node = await NodeProcess.StartAsync();
        for (var i = 0; i < 3; i++)
        {
            await node.Client.PostAsJsonAsync("/api/tasks/execute?wait=5s", new { type = "store", data = new { content = $"m{i}" } });
        }

        var json = await node.Client.GetFromJsonAsync<JsonObject>("/api/metrics");
        var text = await node.Client.GetStringAsync("/metrics");

        Assert.Equal(3, json!["summary"]!["tasksCompleted"]!.GetValue<double>());
        Assert.Equal("counter", json["metrics"]!["tenzro.tasks.completed"]!["type"]!.GetValue<string>());
        Assert.Contains("tenzro_tasks_completed_total{otel_scope_name=\"Tenzro.Node\",type=\"store\"} 3", text.Replace("\r", "", StringComparison.Ordinal));
    }

    private static async Task<(int Code, string Output)> PromtoolAsync(string metrics)
    {
        var start = new ProcessStartInfo(PromtoolPath) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("check");
        start.ArgumentList.Add("metrics");
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(metrics);
        process.StandardInput.Close();
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, output);
    }
}
