using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests;

[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class LifecycleTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Node_Sigterm_ExitsCleanlyWithinTenSeconds()
    {
        await using var node = await NodeProcess.StartAsync();
        var health = await node.Client.GetFromJsonAsync<JsonObject>("/health");

        await node.SignalAsync(15);
        var exited = await node.WaitForExitAsync(ExitTimeout);

        Assert.Equal("healthy", health!["status"]!.GetValue<string>());
        Assert.True(exited, "the node did not exit after SIGTERM:\n" + node.Output);
        Assert.Equal(0, node.ExitCode);
    }

    [Fact]
    public async Task Node_BadSettings_Exits78NamingEveryKey()
    {
        await using var node = NodeProcess.Launch(new Dictionary<string, string> { ["NODE_TIER"] = "gold", ["PORT"] = "abc", ["MAX_CONCURRENT_TASKS"] = "-1" });

        var exited = await node.WaitForExitAsync(ExitTimeout);

        Assert.True(exited);
        Assert.Equal(78, node.ExitCode);
        Assert.Contains("NODE_TIER: 'gold'", node.Output);
        Assert.Contains("PORT: 'abc'", node.Output);
        Assert.Contains("MAX_CONCURRENT_TASKS: '-1'", node.Output);
    }

    [Fact]
    public async Task Node_SecondInstanceOnSameDataDir_RefusesNamingTheFirst()
    {
        await using var first = await NodeProcess.StartAsync();
        await using var second = NodeProcess.Launch(dataDirectory: first.DataDirectory);

        var exited = await second.WaitForExitAsync(ExitTimeout);

        Assert.True(exited);
        Assert.NotEqual(0, second.ExitCode);
        Assert.Contains($"pid {first.Pid}", second.Output);
    }

    [Fact]
    public async Task Node_EnvFileInWorkingDirectory_IsReadBelowTheEnvironment()
    {
        var directory = NodeProcess.NewDirectory();
        await File.WriteAllTextAsync(Path.Combine(directory, ".env"), "REGION=eu-west\nNODE_TIER=aggregator\n");
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string> { ["NODE_TIER"] = "training" }, directory);

        var status = await node.Client.GetFromJsonAsync<JsonObject>("/status");

        Assert.Equal("eu-west", status!["region"]!.GetValue<string>());
        Assert.Equal("training", status["tier"]!["configured"]!.GetValue<string>());
    }

    [Fact]
    public async Task Cli_HealthCheckAndStatus_AgainstRunningNode()
    {
        await using var node = await NodeProcess.StartAsync();

        var (healthCode, healthOut) = await Cli.RunAsync("health-check", "--url", node.BaseAddress.ToString());
        var (statusCode, statusOut) = await Cli.RunAsync("status", "--json", "--url", node.BaseAddress.ToString());
        var (downCode, downOut) = await Cli.RunAsync("health-check", "--url", $"http://127.0.0.1:{NodeProcess.FreePort()}");

        Assert.Equal(0, healthCode);
        Assert.Contains("node: healthy", healthOut);
        Assert.Equal(0, statusCode);
        Assert.Contains("\"peerId\"", statusOut);
        Assert.Equal(2, downCode);
        Assert.Contains("Cannot reach the node", downOut);
    }

    [Fact]
    public async Task Cli_HelpAndVersion_ListSubcommands()
    {
        var (helpCode, help) = await Cli.RunAsync("--help");
        var (versionCode, version) = await Cli.RunAsync("--version");
        var (badCode, _) = await Cli.RunAsync("no-such-command");

        Assert.Equal(0, helpCode);
        foreach (var command in new[] { "run", "status", "health-check", "submit", "drain", "resume" })
        {
            Assert.Contains(command, help);
        }

        Assert.Equal(0, versionCode);
        Assert.Matches(@"\d+\.\d+\.\d+", version);
        Assert.Equal(2, badCode);
    }

    [Fact]
    public async Task Node_AcknowledgedTasks_SurviveSigkill()
    {
        var directory = NodeProcess.NewDirectory();
        var port = NodeProcess.FreePort();
        var ids = new List<string>();
        await using (var node = await NodeProcess.StartAsync(new Dictionary<string, string> { ["MAX_CONCURRENT_TASKS"] = "1" }, directory, port))
        {
            await node.Admin.PostAsync("/api/node/drain", null);
            for (var i = 0; i < 40; i++)
            {
                var response = await node.Client.PostAsJsonAsync("/api/tasks/execute?", new { type = "store", priority = i % 2 == 0 ? "low" : "high", data = new { content = $"item {i}" } });
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            }

            await node.Admin.PostAsync("/api/node/resume", null);
            for (var i = 0; i < 40; i++)
            {
                var response = await node.Client.PostAsJsonAsync("/api/tasks/execute", new { type = "store", priority = "low", data = new { content = $"item {i}" } });
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
                ids.Add((await response.Content.ReadFromJsonAsync<JsonObject>())!["taskId"]!.GetValue<string>());
            }

            await node.SignalAsync(9);
            Assert.True(await node.WaitForExitAsync(ExitTimeout));
        }

        await using var restarted = await NodeProcess.StartAsync(dataDirectory: directory, port: port);
        foreach (var id in ids)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            string? state = null;
            while (DateTime.UtcNow < deadline)
            {
                var status = await restarted.Client.GetFromJsonAsync<JsonObject>($"/api/tasks/{id}");
                state = status!["state"]!.GetValue<string>();
                if (state == "completed")
                {
                    break;
                }

                await Task.Delay(50);
            }

            Assert.Equal("completed", state);
        }
    }
}
