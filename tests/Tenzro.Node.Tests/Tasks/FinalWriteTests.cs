using Microsoft.Data.Sqlite;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Tasks;

/// <summary>
/// A task whose final state cannot be stored (as on a full disk) is not stranded: it shows as running, keeps its slot,
/// and completes by itself once the store takes writes again. The store's refusal is real: an SQLite trigger.
/// </summary>
[Trait("Suite", "tasks")]
public sealed class FinalWriteTests
{
    [Fact]
    public async Task Finish_StoreRefusesTheFinalState_TaskStaysRunningThenCompletesWhenTheStoreRecovers()
    {
        await using var node = await TestNode.StartAsync();
        Execute(node, """
            CREATE TABLE refuse_final(x);
            INSERT INTO refuse_final VALUES (1);
            CREATE TRIGGER refuse_final_state BEFORE UPDATE OF state ON tasks WHEN NEW.state = 'completed' AND EXISTS (SELECT 1 FROM refuse_final)
            BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;
            """);

        var (_, body) = await node.Client.SubmitAsync("""{"taskId":"stuck-1","type":"store","data":{"content":"kept"}}""");
        var refused = await WaitForAsync(node, "stuck-1", status => status["attempts"]?.GetValue<int>() >= 1 && status["state"]!.GetValue<string>() == "running");
        var during = await node.Client.GetJsonAsync("/status");
        Execute(node, "DELETE FROM refuse_final;");
        var final = await node.Client.WaitFinalAsync("stuck-1", TimeSpan.FromSeconds(30));
        var resources = await node.Client.GetJsonAsync("/api/resources/status");

        Assert.Equal("stuck-1", body!["taskId"]!.GetValue<string>());
        Assert.Equal("running", refused["state"]!.GetValue<string>());
        Assert.Equal(1, during["tasks"]!["running"]!.GetValue<int>());
        Assert.Equal("completed", final["state"]!.GetValue<string>());
        Assert.Equal(0, resources["reserved"]!["memoryMB"]!.GetValue<long>());
    }

    private static async Task<System.Text.Json.Nodes.JsonObject> WaitForAsync(TestNode node, string taskId, Func<System.Text.Json.Nodes.JsonObject, bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeouts.Short;
        while (true)
        {
            var status = await node.Client.GetJsonAsync($"/api/tasks/{taskId}");
            if (condition(status) || DateTime.UtcNow > deadline)
            {
                return status;
            }

            await Task.Delay(20);
        }
    }

    private static void Execute(TestNode node, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(node.DataDirectory, "node.db")};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
