using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.LoadTest;

/// <summary>
/// The mixed load's makespan with MAX_CONCURRENT_TASKS=auto against the old fixed default of 5, each on a fresh node in
/// the same run: N tasks that each reserve 0.1 core and 16 MB, so that the run slots, not the ledger, bound how many run
/// at once, submitted by 16 clients as fast as they can. The mixed load (the goal) is a quarter each of small stores,
/// Wasm adds, Wasm loops of 20,000,000 steps (some 25 ms of CPU, which the task's CPU quota of a tenth of a core spreads
/// over about a quarter of a second) and 4 KB stores. Then the same mix with a loop of 200,000 steps, where every task
/// ends within a millisecond and the submissions bind, and N inferences of the test MLP at the default requirements,
/// where the ledger (1 core each) binds.
/// </summary>
internal sealed class SlotsScenario : Scenario
{
    private const string Loop = "(module (func (export \"run\") (param i32) (result i32) (local i32) (loop local.get 1 i32.const 1 i32.add local.tee 1 local.get 0 i32.lt_u br_if 0) local.get 1))";
    private const int LongLoop = 20_000_000;
    private const int ShortLoop = 200_000;

    private int _run;

    public override async Task<ScenarioResult> RunAsync(ScenarioOptions options)
    {
        if (options.Url is not null)
        {
            throw new ArgumentException("slots starts a fresh node for each figure, with its own MAX_CONCURRENT_TASKS; it cannot use --url");
        }

        // The two nodes of each pair are started in turn, the compared one first in odd runs, so that neither always
        // runs on a machine the other has just warmed.
        var compared = options.Slots;
        var firstFixed = _run++ % 2 == 1;
        async Task<((TimeSpan Makespan, string Slots) Compared, (TimeSpan Makespan, string Slots) Fixed)> PairAsync(int? loopSteps)
        {
            if (firstFixed)
            {
                var fixedFirst = await MakespanAsync(options, "5", loopSteps);
                return (await MakespanAsync(options, compared, loopSteps), fixedFirst);
            }

            var comparedFirst = await MakespanAsync(options, compared, loopSteps);
            return (comparedFirst, await MakespanAsync(options, "5", loopSteps));
        }

        var (auto, fixedFive) = await PairAsync(LongLoop);
        var (autoShort, fixedShort) = await PairAsync(ShortLoop);
        var (autoInference, fixedInference) = await PairAsync(null);
        var autoRate = options.Tasks / auto.Makespan.TotalSeconds;
        var fixedRate = options.Tasks / fixedFive.Makespan.TotalSeconds;
        var ratio = fixedFive.Makespan / auto.Makespan;
        return new ScenarioResult("tasks/s", autoRate, "tasks/s", "MAX_CONCURRENT_TASKS=5", fixedRate, true,
            [
                string.Create(CultureInfo.InvariantCulture, $"{options.Tasks} mixed tasks, 20,000,000-step loops: MAX_CONCURRENT_TASKS={compared} ({auto.Slots} slots) makespan {auto.Makespan.TotalSeconds:F2} s ({autoRate:F0}/s), fixed 5 {fixedFive.Makespan.TotalSeconds:F2} s ({fixedRate:F0}/s), ratio {ratio:F2} (goal >= 1.2: {(ratio >= 1.2 ? "met" : "not met")}){(firstFixed ? "; fixed 5 ran first" : "")}"),
                string.Create(CultureInfo.InvariantCulture, $"{options.Tasks} mixed tasks, 200,000-step loops: {compared} {options.Tasks / autoShort.Makespan.TotalSeconds:F0}/s, fixed 5 {options.Tasks / fixedShort.Makespan.TotalSeconds:F0}/s, ratio {fixedShort.Makespan / autoShort.Makespan:F2}"),
                string.Create(CultureInfo.InvariantCulture, $"{options.Tasks} inferences of the test MLP (default requirements): {compared} {options.Tasks / autoInference.Makespan.TotalSeconds:F0}/s, fixed 5 {options.Tasks / fixedInference.Makespan.TotalSeconds:F0}/s, ratio {fixedInference.Makespan / autoInference.Makespan:F2}"),
            ]);
    }

    /// <summary>From the first submission to the last end of the mixed load with loops of <paramref name="loopSteps"/> (inferences where null), on a fresh node with <paramref name="slots"/>; and the slots it ran with (from its profile's optimizations).</summary>
    private static async Task<(TimeSpan Makespan, string Slots)> MakespanAsync(ScenarioOptions options, string slots, int? loopSteps)
    {
        var (url, node) = await NodeAsync(options, new Dictionary<string, string> { ["MAX_CONCURRENT_TASKS"] = slots });
        await using var _ = node;
        using var client = Client(url);
        var model = loopSteps is null ? await UploadModelAsync(client) : null;
        var next = -1;
        var ids = new string[options.Tasks];
        await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < options.Tasks)
            {
                using var response = await client.PostAsync("/api/tasks/execute", Json((loopSteps is { } steps ? TaskBody(i, steps) : InferenceBody(i, model!)).ToJsonString()));
                var answer = await response.Content.ReadFromJsonAsync<JsonObject>();
                ids[i] = answer?["taskId"]?.GetValue<string>() ?? throw new InvalidOperationException($"submit answered {(int)response.StatusCode}");
            }
        }));

        var first = DateTimeOffset.MaxValue;
        var last = DateTimeOffset.MinValue;
        foreach (var id in ids)
        {
            var record = await WaitFinalAsync(client, id);
            if (record["state"]!.GetValue<string>() != "completed")
            {
                throw new InvalidOperationException($"task {id} ended {record["state"]}: {record["error"]}");
            }

            first = Min(first, Time(record, "submittedAt"));
            last = Max(last, Time(record, "finishedAt"));
        }

        var profile = await client.GetFromJsonAsync<JsonObject>("/api/hardware/profile");
        var inForce = profile?["optimizations"]?.AsArray().FirstOrDefault(o => o?["name"]?.GetValue<string>() == "MAX_CONCURRENT_TASKS")?["value"]?.ToJsonString() ?? slots;
        return (last - first, inForce);
    }

    private static async Task<string> UploadModelAsync(HttpClient client)
    {
        using var upload = new ByteArrayContent(await File.ReadAllBytesAsync(Path.Combine(ChildProcess.RepositoryRoot(), "tests", "models", "mlp.onnx")));
        upload.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        var stored = await (await client.PutAsync("/api/models", upload)).Content.ReadFromJsonAsync<JsonObject>();
        return stored!["sha256"]!.GetValue<string>();
    }

    /// <summary>An inference of the test MLP with the default requirements (1 core, 256 MB), as a user submits one.</summary>
    private static JsonObject InferenceBody(int i, string model) => new()
    {
        ["type"] = "inference",
        ["data"] = new JsonObject
        {
            ["model"] = model,
            ["inputs"] = new JsonObject { ["x"] = new JsonObject { ["type"] = "float32", ["shape"] = new JsonArray(1, 4), ["data"] = new JsonArray(i % 7, 1, 2, 3) } },
        },
    };

    private static JsonObject TaskBody(int i, int loopSteps)
    {
        var data = (i % 4) switch
        {
            0 => new JsonObject { ["content"] = $"item {i}" },
            1 => new JsonObject { ["wat"] = ComputeScenario.AddWat, ["entry"] = "add", ["args"] = new JsonArray(i, 1) },
            2 => new JsonObject { ["wat"] = Loop, ["entry"] = "run", ["args"] = new JsonArray(loopSteps) },
            _ => new JsonObject { ["content"] = new string('y', 4096) },
        };
        return new JsonObject
        {
            ["type"] = i % 4 is 1 or 2 ? "compute" : "store",
            ["data"] = data,
            ["requirements"] = new JsonObject { ["cpu"] = 0.1, ["memoryMB"] = 16 },
        };
    }

    internal static async Task<JsonObject> WaitFinalAsync(HttpClient client, string id)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (DateTime.UtcNow < deadline)
        {
            var status = await client.GetFromJsonAsync<JsonObject>($"/api/tasks/{id}");
            if (status!["state"]!.GetValue<string>() is "completed" or "failed" or "timed_out" or "cancelled")
            {
                return status;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"task {id} did not finish");
    }

    internal static DateTimeOffset Time(JsonObject record, string field) =>
        DateTimeOffset.Parse(record[field]!.GetValue<string>(), CultureInfo.InvariantCulture);

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    internal static string LoopTask(int count) => new JsonObject
    {
        ["type"] = "compute",
        ["data"] = new JsonObject { ["wat"] = Loop, ["entry"] = "run", ["args"] = new JsonArray(count) },
    }.ToJsonString();
}

/// <summary>
/// The cost model on the real clock: one Wasm module run N times in a row; for the runs after the 20th, the error of the
/// estimate on each task's status against the time it ran (startedAt to finishedAt). Reports the median error.
/// </summary>
internal sealed class EstimateScenario : Scenario
{
    public override async Task<ScenarioResult> RunAsync(ScenarioOptions options)
    {
        var (url, node) = await NodeAsync(options);
        await using var _ = node;
        using var client = Client(url);
        var errors = new List<double>();
        var pairs = new List<string>();
        var runs = Math.Max(options.Tasks, 21);
        for (var i = 0; i < runs; i++)
        {
            using var response = await client.PostAsync("/api/tasks/execute", Json(SlotsScenario.LoopTask(30_000_000)));
            var id = (await response.Content.ReadFromJsonAsync<JsonObject>())!["taskId"]!.GetValue<string>();
            var record = await SlotsScenario.WaitFinalAsync(client, id);
            var took = (SlotsScenario.Time(record, "finishedAt") - SlotsScenario.Time(record, "startedAt")).TotalMilliseconds;
            if (i >= 20 && record["estimate"]?["durationMs"]?.GetValue<double>() is { } estimate)
            {
                errors.Add(Math.Abs(estimate - took) / took);
                pairs.Add(string.Create(CultureInfo.InvariantCulture, $"{estimate:F0}/{took:F0}"));
            }
        }

        var median = errors.Order().ElementAt(errors.Count / 2);
        return new ScenarioResult("median estimate error", median * 100, "%", null, null, median < 0.25,
            [string.Create(CultureInfo.InvariantCulture, $"{errors.Count} runs after the 20th: median error {median:P1}, max {errors.Max():P1}; estimate/took ms: {string.Join(' ', pairs)}")]);
    }
}
