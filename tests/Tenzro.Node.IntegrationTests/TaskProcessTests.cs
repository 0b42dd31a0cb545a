using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests;

[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class TaskProcessTests
{
    private const string SpinTask = """{"type":"compute","timeout":120,"data":{"wat":"(module (func (export \"spin\") (loop br 0)))","entry":"spin","args":[]},"config":{"fuel":1000000000000000}}""";

    [Fact]
    public async Task RunningTask_KilledNodeTwice_IsRequeuedThenFailsAfterMaxAttempts()
    {
        var directory = NodeProcess.NewDirectory();
        var port = NodeProcess.FreePort();
        var settings = new Dictionary<string, string> { ["MAX_TASK_ATTEMPTS"] = "2" };
        string id;
        await using (var node = await NodeProcess.StartAsync(settings, directory, port))
        {
            id = await SubmitAsync(node, SpinTask);
            await WaitStateAsync(node, id, "running");
            await Task.Delay(TimeSpan.FromMilliseconds(500)); // the running state is written 50 ms after the start
            await node.SignalAsync(9);
            Assert.True(await node.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        }

        await using (var node = await NodeProcess.StartAsync(settings, directory, port))
        {
            var requeued = await WaitStateAsync(node, id, "running");
            Assert.Equal(2, requeued["attempts"]!.GetValue<int>());
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            await node.SignalAsync(9);
            Assert.True(await node.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        }

        await using (var node = await NodeProcess.StartAsync(settings, directory, port))
        {
            var failed = await WaitStateAsync(node, id, "failed");
            Assert.Contains("MAX_TASK_ATTEMPTS is 2", failed["error"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task RunningTask_Sigterm_IsRequeuedWithoutCountingTheAttempt()
    {
        var directory = NodeProcess.NewDirectory();
        var port = NodeProcess.FreePort();
        string id;
        await using (var node = await NodeProcess.StartAsync(dataDirectory: directory, port: port))
        {
            id = await SubmitAsync(node, SpinTask);
            await WaitStateAsync(node, id, "running");
            await node.SignalAsync(15);
            Assert.True(await node.WaitForExitAsync(TimeSpan.FromSeconds(30)), node.Output);
            Assert.Equal(0, node.ExitCode);
        }

        await using var restarted = await NodeProcess.StartAsync(dataDirectory: directory, port: port);
        var status = await WaitStateAsync(restarted, id, "running");

        Assert.Equal(1, status["attempts"]!.GetValue<int>());
    }

    [Fact]
    public async Task Cli_SubmitWait_PrintsTheResultAndExitsByOutcome()
    {
        await using var node = await NodeProcess.StartAsync();
        var directory = NodeProcess.NewDirectory();
        var good = Path.Combine(directory, "good.json");
        var bad = Path.Combine(directory, "bad.json");
        await File.WriteAllTextAsync(good, """{"type":"compute","data":{"wat":"(module (func (export \"add\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))","entry":"add","args":[2,3]}}""");
        await File.WriteAllTextAsync(bad, """{"type":"compute","data":{"wat":"(module (func (export \"f\") unreachable))","entry":"f","args":[]}}""");

        var (okCode, okOut) = await Cli.RunAsync("submit", good, "--wait", "--url", node.BaseAddress.ToString());
        var (failCode, failOut) = await Cli.RunAsync("submit", bad, "--wait", "--url", node.BaseAddress.ToString());
        var (refusedCode, refusedOut) = await Cli.RunAsync("submit", good.Replace("good", "missing", StringComparison.Ordinal), "--url", node.BaseAddress.ToString());

        Assert.Equal(0, okCode);
        Assert.Contains("\"returns\"", okOut);
        Assert.Contains("5", okOut);
        Assert.Equal(1, failCode);
        Assert.Contains("failed", failOut);
        Assert.Equal(2, refusedCode);
        Assert.Contains("Cannot read", refusedOut);
    }

    private static async Task<string> SubmitAsync(NodeProcess node, string json)
    {
        using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        var response = await node.Client.PostAsync("/api/tasks/execute", content);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["taskId"]!.GetValue<string>();
    }

    private static async Task<JsonObject> WaitStateAsync(NodeProcess node, string id, string state)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        JsonObject? status = null;
        while (DateTime.UtcNow < deadline)
        {
            status = await node.Client.GetFromJsonAsync<JsonObject>($"/api/tasks/{id}");
            if (status!["state"]!.GetValue<string>() == state)
            {
                return status;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"task {id} did not reach {state}; last status {status}");
    }
}
