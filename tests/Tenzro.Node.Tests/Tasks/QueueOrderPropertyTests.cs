using CsCheck;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Tasks;

/// <summary>
/// The priority queue, through a real node with one run slot: whatever priorities tasks are submitted with while
/// the slot is taken, they then run by priority, highest first, and in submission order within a priority.
/// </summary>
[Trait("Suite", "tasks")]
public sealed class QueueOrderPropertyTests
{
    private static readonly string[] Priorities = ["low", "medium", "high", "critical"];

    [Fact]
    public async Task Queue_AnyPriorities_RunByPriorityThenSubmissionOrder()
    {
        var (node, runtime) = await ScriptedRuntime.StartNodeAsync(new Dictionary<string, string?> { ["MAX_CONCURRENT_TASKS"] = "1" });
        await using var _ = node;
        var round = 0;

        await Gen.Int[0, 3].Array[1, 10].SampleAsync(async priorities =>
        {
            round++;
            var gate = $"gate-{round}";
            await node.Client.SubmitAsync($$$"""{"taskId":"{{{gate}}}","type":"script","data":{"action":"gate","gate":"{{{gate}}}"}}""");
            await WaitRunningAsync(node, gate);
            var ids = new List<(string Id, int Priority)>();
            for (var i = 0; i < priorities.Length; i++)
            {
                var id = $"r{round}-{i}";
                var (status, _) = await node.Client.SubmitAsync($$$"""{"taskId":"{{{id}}}","type":"script","priority":"{{{Priorities[priorities[i]]}}}","data":{"action":"complete"}}""");
                Assert.Equal(System.Net.HttpStatusCode.Accepted, status);
                ids.Add((id, priorities[i]));
            }

            runtime.Open(gate);
            foreach (var (id, _) in ids)
            {
                await node.Client.WaitFinalAsync(id);
            }

            var started = runtime.Started.Where(id => id.StartsWith($"r{round}-", StringComparison.Ordinal)).ToList();
            var expected = ids.Select((task, index) => (task.Id, task.Priority, index)).OrderByDescending(t => t.Priority).ThenBy(t => t.index).Select(t => t.Id).ToList();
            Assert.Equal(expected, started);
        }, iter: 12, threads: 1);
    }

    private static async Task WaitRunningAsync(TestNode node, string taskId)
    {
        var deadline = DateTime.UtcNow + Timeouts.Short;
        while (DateTime.UtcNow < deadline && (await node.Client.GetJsonAsync($"/api/tasks/{taskId}"))["state"]?.GetValue<string>() != "running")
        {
            await Task.Delay(10);
        }
    }
}
