using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.LoadTest;

/// <summary>
/// N tasks of mixed types and priorities, queued while both run slots are held and then released at once: all must
/// complete, and no task may start before a queued task of higher priority. Reports throughput and the
/// p99 of submit-to-finish.
/// </summary>
internal sealed class MixedScenario : Scenario
{
    private static readonly string[] Priorities = ["low", "medium", "high", "critical"];

    public override async Task<ScenarioResult> RunAsync(ScenarioOptions options)
    {
        var (url, node) = await NodeAsync(options, new Dictionary<string, string> { ["MAX_CONCURRENT_TASKS"] = "2" });
        await using var nodeProcess = node;
        using var client = Client(url);
        var random = new Random(42);
        var ids = new List<(string Id, int Priority)>();

        // A draining node refuses submissions, so the batch is queued behind two runaway modules that hold
        // both run slots; once every task is queued they are cancelled and the queue drains in priority order.
        var blockers = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            blockers.Add(await SubmitAsync(client, Task("compute", "critical", new JsonObject { ["wat"] = "(module (func (export \"spin\") (loop br 0)))", ["entry"] = "spin", ["args"] = new JsonArray() }, timeout: 300, fuel: 1_000_000_000_000_000)));
        }

        for (var i = 0; i < options.Tasks; i++)
        {
            var priority = random.Next(4);
            var task = (i % 3) switch
            {
                0 => Task("store", Priorities[priority], new JsonObject { ["content"] = $"item {i}" }),
                1 => Task("compute", Priorities[priority], new JsonObject { ["wat"] = ComputeScenario.AddWat, ["entry"] = "add", ["args"] = new JsonArray(i, 1) }),
                _ => Task("store", Priorities[priority], new JsonObject { ["content"] = new string('y', 4096) }),
            };
            ids.Add((await SubmitAsync(client, task), priority));
        }

        foreach (var blocker in blockers)
        {
            (await client.DeleteAsync($"/api/tasks/{blocker}")).Dispose();
        }

        var records = new List<JsonObject>();
        foreach (var (id, _) in ids)
        {
            records.Add(await WaitFinalAsync(client, id));
        }

        // Throughput counts from the first start of the batch (when the blockers let go) to its last end.
        var firstStart = records.Min(r => DateTimeOffset.Parse(r["startedAt"]!.GetValue<string>(), CultureInfo.InvariantCulture));
        var lastEnd = records.Max(r => DateTimeOffset.Parse(r["finishedAt"]!.GetValue<string>(), CultureInfo.InvariantCulture));
        var elapsed = lastEnd - firstStart;
        var completed = records.Count(r => r["state"]!.GetValue<string>() == "completed");
        var started = records.Select((r, i) => (Start: r["startedAt"]!.GetValue<string>(), ids[i].Priority)).OrderBy(x => x.Start, StringComparer.Ordinal).ToList();
        var inversions = 0;
        for (var i = 1; i < started.Count; i++)
        {
            if (started[i].Priority > started[i - 1].Priority)
            {
                inversions++;
            }
        }

        var latencies = records.Select(r => (DateTimeOffset.Parse(r["finishedAt"]!.GetValue<string>(), CultureInfo.InvariantCulture) - DateTimeOffset.Parse(r["submittedAt"]!.GetValue<string>(), CultureInfo.InvariantCulture)).TotalMilliseconds).Order().ToArray();
        var p99 = latencies[(int)Math.Min(latencies.Length - 1, Math.Ceiling(latencies.Length * 0.99) - 1)];
        var throughput = completed / elapsed.TotalSeconds;
        var ok = completed == options.Tasks && inversions == 0;
        return new ScenarioResult("tasks/s", throughput, "tasks/s", null, null, ok,
            [$"{completed}/{options.Tasks} completed in {elapsed.TotalSeconds:F2} s once released ({throughput:F0} tasks/s), priority inversions {inversions}, p99 submit-to-finish {p99:F0} ms"]);
    }

    private static JsonObject Task(string type, string priority, JsonObject data, double timeout = 60, long fuel = 1_000_000)
    {
        var task = new JsonObject { ["type"] = type, ["priority"] = priority, ["timeout"] = timeout, ["data"] = data, ["requirements"] = new JsonObject { ["memoryMB"] = 16, ["cpu"] = 0.1 } };
        if (type == "compute")
        {
            task["config"] = new JsonObject { ["fuel"] = fuel };
        }

        return task;
    }

    private static async Task<string> SubmitAsync(HttpClient client, JsonObject task)
    {
        using var response = await client.PostAsync("/api/tasks/execute", Json(task.ToJsonString()));
        var body = await response.Content.ReadFromJsonAsync<JsonObject>();
        return body?["taskId"]?.GetValue<string>() ?? throw new InvalidOperationException($"submit answered {(int)response.StatusCode}: {body}");
    }

    private static async Task<JsonObject> WaitFinalAsync(HttpClient client, string id)
    {
        var deadline = Stopwatch.GetTimestamp() + (120 * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var status = await client.GetFromJsonAsync<JsonObject>($"/api/tasks/{id}");
            if (status!["state"]!.GetValue<string>() is "completed" or "failed" or "timed_out" or "cancelled")
            {
                return status;
            }

            await System.Threading.Tasks.Task.Delay(20);
        }

        throw new TimeoutException($"task {id} did not finish");
    }
}
