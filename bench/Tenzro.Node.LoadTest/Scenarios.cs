using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Tenzro.Node.LoadTest;

internal abstract class Scenario
{
    public abstract Task<ScenarioResult> RunAsync(ScenarioOptions options);

    protected static HttpClient Client(Uri url) => new(new SocketsHttpHandler { MaxConnectionsPerServer = 1024 }) { BaseAddress = url, Timeout = TimeSpan.FromSeconds(60) };

    protected static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>Uses --url when given, else starts a node process for the scenario.</summary>
    protected static async Task<(Uri Url, ChildProcess? Process)> NodeAsync(ScenarioOptions options, IDictionary<string, string>? settings = null)
    {
        if (options.Url is not null)
        {
            return (options.Url, null);
        }

        var node = ChildProcess.StartNode(settings, options.Node);
        await node.WaitHealthyAsync(Stopwatch.GetTimestamp(), TimeSpan.FromSeconds(60));
        return (node.Url, node);
    }

    /// <summary>Starts the bare Kestrel baseline (<see cref="BaselineServer"/>) in a process of its own, once it answers.</summary>
    protected static async Task<ChildProcess> BaselineAsync()
    {
        var baseline = ChildProcess.StartSelf("baseline-server");
        await baseline.WaitHealthyAsync(Stopwatch.GetTimestamp(), TimeSpan.FromSeconds(30));
        return baseline;
    }
}

/// <summary>GET /health on the node against a bare Kestrel minimal API returning the same JSON.</summary>
internal sealed class HealthScenario : Scenario
{
    public override async Task<ScenarioResult> RunAsync(ScenarioOptions options)
    {
        var (url, node) = await NodeAsync(options);
        await using var _ = node;
        await using var baseline = await BaselineAsync();
        using var nodeClient = Client(url);
        using var bareClient = Client(baseline.Url);
        var clients = Math.Min(options.Clients, 16);

        var (nodeRate, nodeLatency) = await LoadDriver.RunAsync(clients, options.Duration, async ct => (await nodeClient.GetAsync("/health", ct)).Dispose(), settle: node);
        var (bareRate, bareLatency) = await LoadDriver.RunAsync(clients, options.Duration, async ct => (await bareClient.GetAsync("/health", ct)).Dispose());
        return new ScenarioResult("requests/s", nodeRate, "req/s", "bare Kestrel", bareRate, true,
            [$"node {nodeRate:F0} req/s ({nodeLatency.Describe()}); bare Kestrel {bareRate:F0} req/s ({bareLatency.Describe()}); {clients} clients"]);
    }
}

/// <summary>
/// GET /api/tasks/{id} of finished tasks (200 1 KB store tasks, run first and read at random) with up to 16 clients,
/// against the bare Kestrel endpoint answering a finished task's status of the same size.
/// </summary>
internal sealed class GetTaskScenario : Scenario
{
    private const int Tasks = 200;

    public override async Task<ScenarioResult> RunAsync(ScenarioOptions options)
    {
        var (url, node) = await NodeAsync(options);
        await using var _ = node;
        await using var baseline = await BaselineAsync();
        using var nodeClient = Client(url);
        using var bareClient = Client(baseline.Url);
        var clients = Math.Min(options.Clients, 16);
        var body = "{\"type\":\"store\",\"priority\":\"low\",\"data\":{\"content\":\"" + new string('x', 1024) + "\"}}";
        var ids = new string[Tasks];
        for (var i = 0; i < Tasks; i++)
        {
            using var response = await nodeClient.PostAsync("/api/tasks/execute?wait=10s", Json(body));
            var result = await response.Content.ReadFromJsonAsync<JsonObject>();
            if (result?["state"]?.GetValue<string>() != "completed")
            {
                throw new InvalidOperationException($"a store task ended {result?["state"]}: {result}");
            }

            ids[i] = result["taskId"]!.GetValue<string>();
        }

        var (nodeRate, nodeLatency) = await LoadDriver.RunAsync(clients, options.Duration, async ct =>
        {
            using var response = await nodeClient.GetAsync($"/api/tasks/{ids[Random.Shared.Next(Tasks)]}", ct);
            if ((int)response.StatusCode != 200)
            {
                throw new InvalidOperationException($"GET answered {(int)response.StatusCode}");
            }

            await response.Content.ReadAsByteArrayAsync(ct);
        }, settle: node);
        var (bareRate, bareLatency) = await LoadDriver.RunAsync(clients, options.Duration, async ct =>
        {
            using var response = await bareClient.GetAsync($"/task/{ids[Random.Shared.Next(Tasks)]}", ct);
            await response.Content.ReadAsByteArrayAsync(ct);
        });
        return new ScenarioResult("requests/s", nodeRate, "req/s", "bare Kestrel", bareRate, true,
            [$"node {nodeRate:F0} req/s ({nodeLatency.Describe()}); bare Kestrel {bareRate:F0} req/s ({bareLatency.Describe()}); {clients} clients"]);
    }
}

/// <summary>
/// Durable POST /api/tasks/execute of 1 KB store tasks with N clients, against a bare SQLite insert loop with the same
/// durability and batching, and against a bare Kestrel endpoint that parses the same JSON and answers 202, in the same
/// run. A submission the node refuses (a full queue or budget: 503) fails the run, so a run that ends says the queue never
/// filled; the line states the queue's limit and the node's budgets.
/// </summary>
internal sealed class SubmitScenario : Scenario
{
    private static readonly string Content = new('x', 1024);

    public override async Task<ScenarioResult> RunAsync(ScenarioOptions options)
    {
        var (url, node) = await NodeAsync(options, new Dictionary<string, string> { ["MAX_CONCURRENT_TASKS"] = "2", ["MAX_QUEUED_TASKS"] = MaxQueuedTasks });
        await using var _ = node;
        using var client = Client(url);
        var limits = $"MAX_QUEUED_TASKS {MaxQueuedTasks}, {await BudgetsAsync(client)}";
        var body = "{\"type\":\"store\",\"priority\":\"low\",\"data\":{\"content\":\"" + Content + "\"}}";
        var (nodeRate, nodeLatency) = await LoadDriver.RunAsync(options.Clients, options.Duration, async ct =>
        {
            using var response = await client.PostAsync("/api/tasks/execute", Json(body), ct);
            if ((int)response.StatusCode != 202)
            {
                throw new InvalidOperationException($"submit answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
            }
        }, settle: node);
        var queuedAtEnd = (await client.GetFromJsonAsync<JsonObject>("/api/resources/status"))?["queued"]?.ToString() ?? "?";

        var (bareRate, bareLatency) = await BareInsertLoopAsync(options.Clients, options.Duration, body);
        await using var baseline = await BaselineAsync();
        using var bareClient = Client(baseline.Url);
        var (kestrelRate, kestrelLatency) = await LoadDriver.RunAsync(options.Clients, options.Duration, async ct =>
        {
            using var response = await bareClient.PostAsync("/accept", Json(body), ct);
            await response.Content.ReadAsByteArrayAsync(ct);
        });
        return new ScenarioResult("acknowledged tasks/s", nodeRate, "tasks/s", "bare SQLite insert loop", bareRate, nodeRate > 0,
            [$"node {nodeRate:F0}/s ({nodeLatency.Describe()}); bare SQLite {bareRate:F0}/s ({bareLatency.Describe()}); bare Kestrel JSON 202 {kestrelRate:F0}/s, node {nodeRate / kestrelRate:F2}x of it ({kestrelLatency.Describe()}); {options.Clients} clients; {limits}; queued at the end {queuedAtEnd}, none refused"]);
    }

    /// <summary>
    /// Ten times the default (100,000): a run submits for its warm-up and its measurement, up to 150,000 tasks at 32 clients,
    /// far faster than two slots run them, and the queue must never fill (a refusal fails the run). The queue keeps no
    /// payload in memory, so its size costs little.
    /// </summary>
    private const string MaxQueuedTasks = "1000000";

    /// <summary>The node's byte budgets as it reports them.</summary>
    private static async Task<string> BudgetsAsync(HttpClient client)
    {
        var quotas = (await client.GetFromJsonAsync<JsonObject>("/api/resources/status"))?["quotas"];
        return $"QUOTA_QUEUED_BYTES {quotas?["queuedBytesLimit"]}, QUOTA_STORED_BYTES {quotas?["storedBytesLimit"]}";
    }

    /// <summary>32 producers, one writer committing batches of up to 512 rows (WAL, synchronous=FULL): the node's own commit discipline without HTTP, validation or queueing.</summary>
    private static async Task<(double, Latencies)> BareInsertLoopAsync(int clients, TimeSpan duration, string body)
    {
        var directory = Directory.CreateTempSubdirectory("tenzro-bare-").FullName;
        var path = Path.Combine(directory, "bare.db");
        using var connection = new SqliteConnection($"Data Source={path}");
        connection.Open();
        using (var setup = connection.CreateCommand())
        {
            setup.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE tasks (seq INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL UNIQUE, body TEXT NOT NULL, submitted_at TEXT NOT NULL);";
            setup.ExecuteNonQuery();
        }

        var channel = Channel.CreateUnbounded<(string Id, TaskCompletionSource Done)>(new UnboundedChannelOptions { SingleReader = true });
        var writer = Task.Run(async () =>
        {
            var batch = new List<(string Id, TaskCompletionSource Done)>();
            while (await channel.Reader.WaitToReadAsync())
            {
                batch.Clear();
                while (batch.Count < 512 && channel.Reader.TryRead(out var item))
                {
                    batch.Add(item);
                }

                using var transaction = connection.BeginTransaction();
                foreach (var (id, _) in batch)
                {
                    using var insert = connection.CreateCommand();
                    insert.CommandText = "INSERT INTO tasks(task_id, body, submitted_at) VALUES ($id, $body, $at);";
                    insert.Parameters.AddWithValue("$id", id);
                    insert.Parameters.AddWithValue("$body", body);
                    insert.Parameters.AddWithValue("$at", DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture));
                    insert.ExecuteNonQuery();
                }

                transaction.Commit();
                foreach (var (_, done) in batch)
                {
                    done.TrySetResult();
                }
            }
        });

        var result = await LoadDriver.RunAsync(clients, duration, async _ =>
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            channel.Writer.TryWrite((Guid.NewGuid().ToString("N"), done));
            await done.Task;
        });
        channel.Writer.Complete();
        await writer;
        connection.Close();
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, true);
        return result;
    }
}

/// <summary>Process start to first 200 on /health, against dotnet running an empty console app; then idle RSS and CPU.</summary>
internal sealed class StartupScenario : Scenario
{
    public override async Task<ScenarioResult> RunAsync(ScenarioOptions options)
    {
        var started = Stopwatch.GetTimestamp();
        await using var node = ChildProcess.StartNode(node: options.Node);
        var toHealthy = await node.WaitHealthyAsync(started, TimeSpan.FromSeconds(60));

        var baselineStarted = Stopwatch.GetTimestamp();
        await using (var noop = ChildProcess.StartSelf("noop"))
        {
            await noop.WaitForExitAsync();
        }

        var emptyApp = Stopwatch.GetElapsedTime(baselineStarted);

        // CPU over the first `duration` seconds after start (the runtime still compiles and tiers up then), and over the
        // 30 s after them: the steady idle that the performance goal ("idle after 60 s") is about.
        var idle = options.Duration;
        var cpuBefore = node.CpuTime();
        await Task.Delay(idle);
        var cpuAtIdle = node.CpuTime();
        var cpuPercent = 100 * (cpuAtIdle - cpuBefore).TotalSeconds / idle.TotalSeconds;
        var rssMb = node.ResidentBytes() / (1024.0 * 1024);
        var steady = TimeSpan.FromSeconds(30);
        await Task.Delay(steady);
        var steadyPercent = 100 * (node.CpuTime() - cpuAtIdle).TotalSeconds / steady.TotalSeconds;
        return new ScenarioResult("to first healthy /health", toHealthy.TotalMilliseconds, "ms", "empty dotnet console app", emptyApp.TotalMilliseconds, true,
            [$"start to healthy {toHealthy.TotalMilliseconds:F0} ms; empty console app {emptyApp.TotalMilliseconds:F0} ms; first {idle.TotalSeconds:F0} s idle: CPU {cpuPercent:F2} %; then RSS {rssMb:F1} MB, CPU over the next {steady.TotalSeconds:F0} s {steadyPercent:F2} %"]);
    }
}
