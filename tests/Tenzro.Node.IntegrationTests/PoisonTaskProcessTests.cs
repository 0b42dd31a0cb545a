using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests;

/// <summary>
/// A task that is running whenever the node dies (as one that kills the process would be) is not run again at
/// every start: each start counts an attempt, and after MAX_TASK_ATTEMPTS it fails, saying why. That the attempt
/// is stored before a run that may crash the process begins is shown exactly by PoisonTaskTests.
/// </summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class PoisonTaskProcessTests
{
    private const string SpinTask = """{"taskId":"poison","type":"compute","timeout":120,"data":{"wat":"(module (func (export \"spin\") (loop br 0)))","entry":"spin","args":[]},"config":{"fuel":1000000000000000}}""";

    [Fact]
    public async Task Task_KilledWithTheNodeAtEveryStart_FailsAfterMaxAttempts()
    {
        var directory = NodeProcess.NewDirectory();
        var port = NodeProcess.FreePort();
        var environment = new Dictionary<string, string>(DatabaseDamageTests.Loopback) { ["MAX_TASK_ATTEMPTS"] = "2" };
        var kills = 0;
        JsonObject? final = null;
        await using (var node = await NodeProcess.StartAsync(environment, directory, port))
        {
            var response = await node.Client.PostAsync("/api/tasks/execute", new StringContent(SpinTask, System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            await KillWhenRunningAsync(node);
            kills++;
        }

        // Without the attempt stored before the run, each start would find the task queued with 0 attempts and run it again, forever.
        while (final is null && kills < 6)
        {
            await using var node = await NodeProcess.StartAsync(environment, directory, port);
            var status = await node.Client.GetFromJsonAsync<JsonObject>("/api/tasks/poison");
            if (status!["state"]!.GetValue<string>() == "failed")
            {
                final = status;
                break;
            }

            await KillWhenRunningAsync(node);
            kills++;
        }

        Assert.True(final is not null, $"the task was still not failed after {kills} kills");
        Assert.True(kills >= 2, $"failed after {kills} kill(s), before MAX_TASK_ATTEMPTS");
        Assert.Contains("interrupted 2 times", final!["error"]!.GetValue<string>());
        Assert.Equal("node", final["errorKind"]!.GetValue<string>());
    }

    /// <summary>Kills the node as soon as the task shows as running.</summary>
    private static async Task KillWhenRunningAsync(NodeProcess node)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var status = await node.Client.GetFromJsonAsync<JsonObject>("/api/tasks/poison");
            if (status!["state"]!.GetValue<string>() == "running")
            {
                break;
            }
        }

        node.KillNow();
        Assert.True(await node.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }
}
