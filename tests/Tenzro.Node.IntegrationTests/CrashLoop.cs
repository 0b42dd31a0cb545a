using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.IntegrationTests;

/// <summary>What a crash loop did and found; <see cref="Problems"/> is empty when every property held.</summary>
public sealed record CrashLoopReport(int Kills, int Submitted, int Acknowledged, int Completed, int Failed, int Lost, int Duplicates, RegionalReport Regional, LinkFaults Faults, IReadOnlyList<string> Problems)
{
    public override string ToString() =>
        $"kills {Kills}, tasks submitted {Submitted}, acknowledged {Acknowledged} (completed {Completed}, failed {Failed}), lost {Lost}, duplicates {Duplicates}; {Regional}; {Faults}" +
        (Problems.Count == 0 ? string.Empty : $"; problems:\n  {string.Join("\n  ", Problems)}");
}

/// <summary>What the test regional node saw of the tasks it assigned during a crash loop.</summary>
/// <param name="Assigned">task_assignments sent.</param>
/// <param name="Accepted">Tasks the node answered task_accepted for: durable on the node, so their outcome must come.</param>
/// <param name="Reported">Accepted tasks whose task_completed arrived.</param>
/// <param name="Repeats">task_completed frames beyond the first, over all tasks (each allowed by a kill between the outbox write and its mark).</param>
/// <param name="MostForOneTask">The most task_completed frames one task got.</param>
public sealed record RegionalReport(int Assigned, int Accepted, int Reported, int Repeats, int MostForOneTask)
{
    public override string ToString() =>
        $"regional: assigned {Assigned}, accepted {Accepted}, task_completed received for {Reported}, repeated task_completed {Repeats} (at most {MostForOneTask} for one task)";
}

/// <summary>Link faults the fault proxy injected on the regional link, one at most per round.</summary>
public sealed record LinkFaults(int Resets, int Truncations, int Delays, int BlackHoles)
{
    public override string ToString() => $"link faults: {Resets} resets, {Truncations} truncated frames, {Delays} slow rounds, {BlackHoles} black holes";
}

/// <summary>
/// Runs the real node process on one DATA_DIR while several clients submit tasks of every type, kills it with
/// SIGKILL at random moments, restarts it, and at the end checks: every task that got a 202 is present and final;
/// none that was seen completed ran again (same finish time, same digest); the blobs and the model that results
/// refer to exist; no reservation is left; after a clean stop the store passes <c>PRAGMA integrity_check</c>.
/// Meanwhile a test regional node assigns store tasks, through a <see cref="FaultProxy"/> that injects one link fault
/// in most rounds (a reset, a truncated frame, a slow path or a black hole long enough for the keep-alive to find the
/// link dead): each task the node accepted gets its <c>task_completed</c> at least once, at most once more per kill
/// and per black hole (a silent link re-sends its last window), and every copy carries the same result.
/// </summary>
public sealed class CrashLoop(int kills, int clients, int seed, Action<string> log)
{
    private readonly ConcurrentDictionary<string, string> _acknowledged = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string Digest, string FinishedAt)> _seenCompleted = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _problems = new();
    private readonly Random _random = new(seed);
    private int _submitted;
    private int _duplicates;
    private int _assigned;
    private int _resets;
    private int _truncations;
    private int _delays;
    private int _blackHoles;
    private string _model = string.Empty;

    public static readonly string[] Types = ["store", "compute", "process", "validate", "aggregate", "inference", "train"];

    public async Task<CrashLoopReport> RunAsync()
    {
        var directory = NodeProcess.NewDirectory();
        var port = NodeProcess.FreePort();
        await using var regional = await DevRegionalProcess.StartAsync();
        await using var proxy = FaultProxy.Start(regional.Url.Port);
        var environment = new Dictionary<string, string>(DatabaseDamageTests.Loopback)
        {
            ["MAX_TASK_ATTEMPTS"] = "50",
            ["LOG_LEVEL"] = "warning",
            ["REGIONAL_NODE_URL"] = new Uri($"ws://127.0.0.1:{proxy.Port}{regional.Url.AbsolutePath}").ToString(),
            ["REGIONAL_KEEPALIVE_TIMEOUT"] = "3000",
            ["HEARTBEAT_INTERVAL"] = "200",
            ["RECONNECT_INTERVAL"] = "100",
            ["RECONNECT_MAX_INTERVAL"] = "500",
            ["MAX_RECONNECT_ATTEMPTS"] = "50",
        };
        var node = await NodeProcess.StartAsync(environment, directory, port);
        try
        {
            _model = await UploadModelAsync(node.Client);
            for (var round = 0; round < kills; round++)
            {
                if (!await regional.WaitForJoinedAsync(TimeSpan.FromSeconds(20)))
                {
                    _problems.Enqueue($"round {round + 1}: the node did not join the regional node within 20 s of starting");
                }

                using var stop = new CancellationTokenSource();
                var submitters = Enumerable.Range(0, clients).Select(client => SubmitUntilStoppedAsync(node.BaseAddress, round, client, stop.Token))
                    .Append(AssignUntilStoppedAsync(regional, round, stop.Token)).ToArray();
                await InjectLinkFaultAsync(proxy, _random.Next(300, 2000));
                node.KillNow();
                await node.WaitForExitAsync(TimeSpan.FromSeconds(30));
                await stop.CancelAsync();
                await Task.WhenAll(submitters);
                await node.DisposeAsync();
                log($"kill {round + 1}/{kills}: {_acknowledged.Count} tasks acknowledged so far");
                proxy.Mode = FaultProxy.Fault.None;
                proxy.Delay = TimeSpan.Zero;
                node = await NodeProcess.StartAsync(environment, directory, port);
            }

            var (completed, failed, lost) = await CheckEveryTaskAsync(node.Client);
            var regionalReport = await CheckRegionalReportsAsync(regional);
            await CheckNoReservationAsync(node.Client);
            await node.SignalAsync(15);
            if (!await node.WaitForExitAsync(TimeSpan.FromSeconds(30)) || node.ExitCode != 0)
            {
                _problems.Enqueue($"the node did not stop cleanly after the loop:\n{node.Output}");
            }

            CheckIntegrity(Path.Combine(directory, "data", "node.db"));
            return new CrashLoopReport(kills, _submitted, _acknowledged.Count, completed, failed, lost, _duplicates, regionalReport, new LinkFaults(_resets, _truncations, _delays, _blackHoles), [.. _problems]);
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    /// <summary>
    /// Lets the round run for <paramref name="roundMs"/>, with one fault on the regional link at a random moment in
    /// most rounds; a black hole lasts 4 s, past REGIONAL_KEEPALIVE_TIMEOUT (3 s), and is lifted before the kill.
    /// </summary>
    private async Task InjectLinkFaultAsync(FaultProxy proxy, int roundMs)
    {
        var before = _random.Next(0, roundMs);
        await Task.Delay(before);
        switch (_random.Next(5))
        {
            case 0:
                Interlocked.Increment(ref _resets);
                proxy.ResetAll();
                break;
            case 1:
                Interlocked.Increment(ref _truncations);
                proxy.TruncateNext(_random.Next(1, 40));
                break;
            case 2:
                Interlocked.Increment(ref _delays);
                proxy.Delay = TimeSpan.FromMilliseconds(_random.Next(20, 100));
                break;
            case 3:
                Interlocked.Increment(ref _blackHoles);
                proxy.Mode = FaultProxy.Fault.BlackHole;
                await Task.Delay(4000);
                proxy.Mode = FaultProxy.Fault.None;
                break;
        }

        await Task.Delay(roundMs - before);
    }

    private async Task SubmitUntilStoppedAsync(Uri node, int round, int client, CancellationToken stop)
    {
        using var http = new HttpClient { BaseAddress = node, Timeout = TimeSpan.FromSeconds(10) };
        var random = new Random(HashCode.Combine(seed, round, client));
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var id = $"c{client}-r{round}-{n}";
            var type = Types[random.Next(Types.Length)];
            try
            {
                Interlocked.Increment(ref _submitted);
                // Half the inference tasks are waited for: those that end at once are written with their end in one commit.
                var wait = type == "inference" && n % 2 == 0 ? "?wait=2s" : string.Empty;
                using var response = await http.PostAsync("/api/tasks/execute" + wait, new StringContent(TaskBody(id, type, n), Encoding.UTF8, "application/json"), stop);
                if (response.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.OK)
                {
                    _acknowledged[id] = type;
                }
                else if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
                {
                    _problems.Enqueue($"{id} ({type}) answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(CancellationToken.None)}");
                }

                if (n % 4 == 0 && !_acknowledged.IsEmpty)
                {
                    await ObserveAsync(http, _acknowledged.Keys.ElementAt(random.Next(_acknowledged.Count)), stop);
                }
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
            {
                // The node was killed under the request: the task may or may not be durable; it was not acknowledged.
                await Task.Delay(20, CancellationToken.None);
            }
        }
    }

    /// <summary>Submits a store task to the regional node every 100 ms; it assigns it to the node while the node is joined.</summary>
    private async Task AssignUntilStoppedAsync(DevRegionalProcess regional, int round, CancellationToken stop)
    {
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            if (await regional.SubmitAsync(RegionalStoreTask($"regional-r{round}-{n}")))
            {
                Interlocked.Increment(ref _assigned);
            }

            await Task.Delay(100, CancellationToken.None);
        }
    }

    /// <summary>
    /// Waits until every task the node accepted has its outcome at the regional node, then checks the outbox's
    /// promise: at least one task_completed, at most one more per kill, all with the same result.
    /// </summary>
    private async Task<RegionalReport> CheckRegionalReportsAsync(DevRegionalProcess regional)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        List<JsonObject> accepted;
        while (true)
        {
            var tasks = await regional.TasksAsync();
            accepted = [.. tasks.Where(t => t["acceptedFrames"]!.GetValue<int>() > 0)];
            var waiting = accepted.Where(t => t["completedFrames"]!.AsArray().Count == 0 && t["failures"]!.AsArray().Count == 0).ToList();
            if (waiting.Count == 0)
            {
                break;
            }

            if (DateTime.UtcNow > deadline)
            {
                foreach (var task in waiting.Take(10))
                {
                    _problems.Enqueue($"regional task {task["taskId"]} was accepted and its outcome never reached the regional node");
                }

                break;
            }

            await Task.Delay(200);
        }

        var repeats = 0;
        var most = 0;
        foreach (var task in accepted)
        {
            var frames = task["completedFrames"]!.AsArray();
            foreach (var failure in task["failures"]!.AsArray())
            {
                _problems.Enqueue($"regional task {task["taskId"]} failed: {failure!.ToJsonString()}");
            }

            if (frames.Count > 1 + kills + _blackHoles)
            {
                _problems.Enqueue($"regional task {task["taskId"]} got task_completed {frames.Count} times with {kills} kills and {_blackHoles} black holes");
            }

            if (frames.Select(f => f!["result"]?.ToJsonString()).Distinct(StringComparer.Ordinal).Count() > 1)
            {
                _problems.Enqueue($"regional task {task["taskId"]} got task_completed with different results");
            }

            repeats += Math.Max(0, frames.Count - 1);
            most = Math.Max(most, frames.Count);
        }

        return new RegionalReport(_assigned, accepted.Count, accepted.Count(t => t["completedFrames"]!.AsArray().Count > 0), repeats, most);
    }

    /// <summary>A store task in the regional form (PROTOCOL.md section 6) whose content depends on its id only.</summary>
    private static JsonObject RegionalStoreTask(string id)
    {
        static string Iso(DateTime time) => time.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var now = DateTime.UtcNow;
        return new JsonObject
        {
            ["taskId"] = id,
            ["type"] = "store",
            ["requirements"] = new JsonObject { ["minTier"] = "inference", ["priority"] = "medium", ["estimatedDuration"] = 60, ["maxNodes"] = 1 },
            ["data"] = new JsonObject { ["input"] = $"regional payload {id}" },
            ["reward"] = new JsonObject { ["total"] = 10, ["perNode"] = 9, ["validatorShare"] = 1, ["deadline"] = Iso(now.AddHours(1)), ["penaltyRate"] = 10 },
            ["status"] = new JsonObject { ["state"] = "pending", ["assignedNodes"] = new JsonArray(), ["acceptedNodes"] = new JsonArray(), ["progress"] = 0 },
            ["timestamp"] = Iso(now),
            ["expiry"] = Iso(now.AddMinutes(10)),
            ["submitter"] = "crash-loop",
        };
    }

    /// <summary>Records a completed task's digest and finish time the first time it is seen, and counts a change as a second completion.</summary>
    private async Task<JsonObject?> ObserveAsync(HttpClient http, string id, CancellationToken cancellationToken)
    {
        var status = await http.GetFromJsonAsync<JsonObject>($"/api/tasks/{id}", cancellationToken);
        if (status?["state"]?.GetValue<string>() != "completed")
        {
            return status;
        }

        var result = await http.GetFromJsonAsync<JsonObject>($"/api/tasks/{id}/result", cancellationToken);
        var seen = (result!["digest"]!.GetValue<string>(), status["finishedAt"]!.GetValue<string>());
        var first = _seenCompleted.GetOrAdd(id, seen);
        if (first != seen)
        {
            Interlocked.Increment(ref _duplicates);
            _problems.Enqueue($"{id} completed twice: first {first}, then {seen}");
            _seenCompleted[id] = seen;
        }

        return status;
    }

    private async Task<(int Completed, int Failed, int Lost)> CheckEveryTaskAsync(HttpClient http)
    {
        var completed = 0;
        var failed = 0;
        var lost = 0;
        var deadline = DateTime.UtcNow.AddMinutes(3);
        foreach (var (id, type) in _acknowledged.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            JsonObject? status;
            while (true)
            {
                using var response = await http.GetAsync($"/api/tasks/{id}");
                if (response.StatusCode == HttpStatusCode.NotFound)
                {
                    lost++;
                    _problems.Enqueue($"{id} ({type}) got a 202 and is gone");
                    status = null;
                    break;
                }

                status = await ObserveAsync(http, id, CancellationToken.None);
                var state = status!["state"]!.GetValue<string>();
                if (state is "completed" or "failed" or "cancelled" or "timed_out" || DateTime.UtcNow > deadline)
                {
                    break;
                }

                await Task.Delay(50);
            }

            switch (status?["state"]?.GetValue<string>())
            {
                case null:
                    break;
                case "completed":
                    completed++;
                    await CheckReferencesAsync(http, id, type);
                    break;
                case "failed" or "cancelled" or "timed_out":
                    failed++;
                    _problems.Enqueue($"{id} ({type}) ended {status["state"]}: {status["error"]}");
                    break;
                default:
                    lost++;
                    _problems.Enqueue($"{id} ({type}) is still {status["state"]}");
                    break;
            }
        }

        return (completed, failed, lost);
    }

    private async Task CheckReferencesAsync(HttpClient http, string id, string type)
    {
        var result = await http.GetFromJsonAsync<JsonObject>($"/api/tasks/{id}/result");
        var path = type switch
        {
            "store" => $"/api/blobs/{result!["result"]!["sha256"]}",
            "inference" => $"/api/models/{_model}",
            _ => null,
        };
        if (path is not null)
        {
            using var response = await http.GetAsync(path);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                _problems.Enqueue($"{id} ({type}) refers to {path}, which answers {(int)response.StatusCode}");
            }
        }
    }

    private async Task CheckNoReservationAsync(HttpClient http)
    {
        var status = await http.GetFromJsonAsync<JsonObject>("/api/resources/status");
        var reserved = status!["reserved"]!.AsObject();
        if (reserved["cpu"]!.GetValue<double>() != 0 || reserved["memoryMB"]!.GetValue<long>() != 0)
        {
            _problems.Enqueue($"reservations are left with every task final: {reserved.ToJsonString()}");
        }
    }

    private void CheckIntegrity(string database)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA integrity_check;";
        var answer = (string)command.ExecuteScalar()!;
        if (answer != "ok")
        {
            _problems.Enqueue($"PRAGMA integrity_check: {answer}");
        }
    }

    private static async Task<string> UploadModelAsync(HttpClient http)
    {
        var bytes = await File.ReadAllBytesAsync(Path.Combine(NodeProcess.RepositoryRoot(), "tests", "models", "linear.onnx"));
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new("application/octet-stream");
        using var response = await http.PutAsync("/api/models", content);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["sha256"]!.GetValue<string>();
    }

    /// <summary>A task of <paramref name="type"/> whose content (and so digest) depends on <paramref name="n"/> only.</summary>
    private string TaskBody(string id, string type, int n) => (type switch
    {
        "store" => """{"taskId":"@ID","type":"store","data":{"content":"payload @ID"}}""",
        "compute" => """{"taskId":"@ID","type":"compute","data":{"wat":"(module (func (export \"add\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))","entry":"add","args":[@N,7]}}""",
        "process" => """{"taskId":"@ID","type":"process","data":{"input":[3,1,2,@N],"config":{"op":"sum"}}}""",
        "validate" => """{"taskId":"@ID","type":"validate","data":{"task":{"type":"process","data":{"input":[1,2,@N],"config":{"op":"sum"}}},"expectedDigest":"0000000000000000000000000000000000000000000000000000000000000000"}}""",
        "aggregate" => """{"taskId":"@ID","type":"aggregate","data":{"strategy":"majority","inputs":["yes","no","yes","@N"]}}""",
        "inference" => """{"taskId":"@ID","type":"inference","data":{"model":"@MODEL","inputs":{"x":{"type":"float32","shape":[2,4],"data":[1,2,3,4,0.5,-1,0,@N]}}}}""",
        _ => """{"taskId":"@ID","type":"train","data":{"model":"linear","features":[[0,0],[1,0],[0,1]],"labels":[1,3,@N],"hyperparameters":{"epochs":5,"learningRate":0.1,"seed":1}}}""",
    }).Replace("@ID", id, StringComparison.Ordinal).Replace("@MODEL", _model, StringComparison.Ordinal).Replace("@N", (n % 10).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
}
