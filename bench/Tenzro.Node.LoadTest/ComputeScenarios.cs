using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Wasmtime;

namespace Tenzro.Node.LoadTest;

/// <summary>
/// Submit-to-result (<c>?wait</c>) of a trivial cached Wasm function, one client at a time, against the
/// parts it cannot avoid, each measured alone in the same run: a direct Wasmtime instantiate-and-call, a
/// bare Kestrel echo of the same request, and the fsyncs durability needs (two commits per task:
/// accepted, finished). The node's own overhead is what remains.
/// </summary>
internal sealed class ComputeScenario : Scenario
{
    public const string AddWat = "(module (func (export \"add\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))";
    private const int CommitsPerTask = 2;

    public override async Task<ScenarioResult> RunAsync(ScenarioOptions options)
    {
        var (url, node) = await NodeAsync(options);
        await using var _ = node;
        await using var baseline = await BaselineAsync();
        using var client = Client(url);
        using var echo = Client(baseline.Url);
        var body = new JsonObject
        {
            ["type"] = "compute",
            ["priority"] = "high",
            ["data"] = new JsonObject { ["wat"] = AddWat, ["entry"] = "add", ["args"] = new JsonArray(2, 3) },
            ["config"] = new JsonObject { ["fuel"] = 1_000_000, ["memoryLimitMB"] = 16 },
            ["requirements"] = new JsonObject { ["memoryMB"] = 16 },
        }.ToJsonString();

        var (_, nodeLatency) = await LoadDriver.RunAsync(1, options.Duration, async ct =>
        {
            using var response = await client.PostAsync("/api/tasks/execute?wait=5s", Json(body), ct);
            var result = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
            if (result?["state"]?.GetValue<string>() != "completed")
            {
                throw new InvalidOperationException($"compute task ended {result?["state"]}: {result}");
            }
        }, settle: node);
        var (_, echoLatency) = await LoadDriver.RunAsync(1, options.Duration, async ct => (await echo.PostAsync("/echo", Json(body), ct)).Dispose());
        var wasm = WasmDirect(options.Duration);
        var fsync = FsyncAlone(TimeSpan.FromSeconds(Math.Min(3, options.Duration.TotalSeconds)));

        var nodeP50 = nodeLatency.PercentileMicros(50);
        var floor = echoLatency.PercentileMicros(50) + wasm.PercentileMicros(50) + (CommitsPerTask * fsync.PercentileMicros(50));
        return new ScenarioResult("p50 submit-to-result", nodeP50, "µs", "echo + Wasmtime + 2 fsyncs", floor, true,
            [$"node {nodeLatency.Describe()}; echo {echoLatency.Describe()}; wasmtime {wasm.Describe()}; fsync {fsync.Describe()}; node overhead beyond the floor {nodeP50 - floor:F0} µs; node CPU {nodeLatency.NodeCpuMicrosPerOperation:F0} µs per task"]);
    }

    private static Latencies WasmDirect(TimeSpan duration)
    {
        using var engine = new Engine(new Config().WithFuelConsumption(true));
        using var module = Module.FromText(engine, "add", AddWat);
        using var linker = new Linker(engine);
        var latencies = new Latencies();
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < end)
        {
            var start = Stopwatch.GetTimestamp();
            using var store = new Store(engine);
            store.Fuel = 1_000_000;
            var instance = linker.Instantiate(store, module);
            instance.GetFunction("add")!.Invoke(2, 3);
            latencies.Record(start);
        }

        return latencies;
    }

    /// <summary>One small write and fsync per iteration, on the filesystem of the temp directory (where the node keeps its data in this scenario).</summary>
    private static Latencies FsyncAlone(TimeSpan duration)
    {
        var path = Path.Combine(Path.GetTempPath(), $"tenzro-fsync-{Guid.NewGuid():N}");
        var latencies = new Latencies();
        using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None))
        {
            var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            var buffer = new byte[64];
            while (Stopwatch.GetTimestamp() < end)
            {
                var start = Stopwatch.GetTimestamp();
                file.Write(buffer);
                file.Flush(flushToDisk: true);
                latencies.Record(start);
            }
        }

        File.Delete(path);
        return latencies;
    }
}

/// <summary>
/// Submit-to-result of the small MLP in tests/models against a direct ONNX Runtime Run in this process; in the same run,
/// the node with ONNX Runtime in its worker processes (the default) and in its own process (TASK_WORKERS=false).
/// </summary>
internal sealed class InferenceScenario : Scenario
{
    public override async Task<ScenarioResult> RunAsync(ScenarioOptions options)
    {
        var modelPath = Path.Combine(ChildProcess.RepositoryRoot(), "tests", "models", "mlp.onnx");
        var model = await File.ReadAllBytesAsync(modelPath);
        float[] input = [0.5f, -1.25f, 2f, 0.75f];
        var nodeLatency = await MeasureNodeAsync(options, model, input, null);
        var inProcess = options.Url is null
            ? await MeasureNodeAsync(options, model, input, new Dictionary<string, string> { ["TASK_WORKERS"] = "false" })
            : null;

        using var session = new InferenceSession(model, new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 1 });
        var direct = new Latencies();
        var end = Stopwatch.GetTimestamp() + (long)(options.Duration.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < end)
        {
            var start = Stopwatch.GetTimestamp();
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(input, [1, 4]))]);
            _ = results[0].AsTensor<float>()[0, 0];
            direct.Record(start);
        }

        var added = nodeLatency.PercentileMicros(50) - direct.PercentileMicros(50);
        var worker = inProcess is null
            ? ""
            : $"; in-process node (TASK_WORKERS=false) {inProcess.Describe()}; the worker adds {nodeLatency.PercentileMicros(50) - inProcess.PercentileMicros(50):F0} µs at p50";
        return new ScenarioResult("p50 submit-to-result", nodeLatency.PercentileMicros(50), "µs", "direct ONNX Runtime Run", direct.PercentileMicros(50), true,
            [$"node {nodeLatency.Describe()}; direct Run {direct.Describe()}; node adds {added:F0} µs at p50; node CPU {nodeLatency.NodeCpuMicrosPerOperation:F0} µs per task{worker}"]);
    }

    private static async Task<Latencies> MeasureNodeAsync(ScenarioOptions options, byte[] model, float[] input, IDictionary<string, string>? settings)
    {
        var (url, node) = await NodeAsync(options, settings);
        await using var nodeProcess = node;
        using var client = Client(url);
        using var upload = new ByteArrayContent(model);
        upload.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        var stored = await (await client.PutAsync("/api/models", upload)).Content.ReadFromJsonAsync<JsonObject>();
        var hash = stored!["sha256"]!.GetValue<string>();
        var body = new JsonObject
        {
            ["type"] = "inference",
            ["priority"] = "high",
            ["data"] = new JsonObject
            {
                ["model"] = hash,
                ["inputs"] = new JsonObject { ["x"] = new JsonObject { ["type"] = "float32", ["shape"] = new JsonArray(1, 4), ["data"] = new JsonArray([.. input.Select(v => (JsonNode)v)]) } },
            },
        }.ToJsonString();

        var (_, latency) = await LoadDriver.RunAsync(1, options.Duration, async ct =>
        {
            using var response = await client.PostAsync("/api/tasks/execute?wait=5s", Json(body), ct);
            var result = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
            if (result?["state"]?.GetValue<string>() != "completed")
            {
                throw new InvalidOperationException($"inference ended {result?["state"]}: {result}");
            }
        }, settle: node);
        return latency;
    }
}
