using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.ModelGen;
using Tenzro.Node.Runtimes.Onnx;
using Tenzro.Node.Runtimes.Workers;

namespace Tenzro.Node.Benchmarks.Onnx;

/// <summary>
/// The worker's share of an inference alone: jobs of the test MLP (one row) sent one after another through the node's
/// worker pool to a real ONNX Runtime worker process (the node's build given on the command line), with no HTTP and no
/// store. Prints the round trip's percentiles per round, after a warm-up.
/// <c>dotnet bench/Tenzro.Node.Benchmarks/bin/Release/net10.0/Tenzro.Node.Benchmarks.dll worker-roundtrip NODE_DLL JOBS ROUNDS</c>.
/// </summary>
internal static class WorkerRoundTripBenchmark
{
    public static void Run(string[] args)
    {
        var nodeDll = Path.GetFullPath(args.Length > 0 ? args[0] : "src/Tenzro.Node/bin/Release/net10.0/tenzro-node.dll");
        var jobs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20_000;
        var rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3;
        var bytes = TestModels.Mlp();
        var path = Path.Combine(Path.GetTempPath(), $"tenzro-roundtrip-{Environment.ProcessId}.onnx");
        File.WriteAllBytes(path, bytes);
        try
        {
            using var pool = new WorkerPool(WorkerRuntimes.Onnx, "ONNX Runtime", new WorkerLaunch("dotnet", [nodeDll], 512L * 1024 * 1024), TimeProvider.System, NullLogger.Instance);
            var job = Job(bytes, path);
            var progress = new Progress<double>();
            Time(pool, job, progress, 3_000); // the worker's start and both sides' compilation to their last tier
            for (var round = 1; round <= rounds; round++)
            {
                var micros = Time(pool, job, progress, jobs);
                Array.Sort(micros);
                double At(double q) => micros[(int)Math.Min(micros.Length - 1, q * micros.Length)];
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"worker-roundtrip round {round}: {jobs} jobs, p50 {At(0.5):F0} µs, p90 {At(0.9):F0} µs, p99 {At(0.99):F0} µs ({nodeDll})"));
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static double[] Time(WorkerPool pool, JsonObject job, IProgress<double> progress, int count)
    {
        var micros = new double[count];
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            pool.RunAsync((JsonObject)job.DeepClone(), 256L * 1024 * 1024, 1, "mlp", progress, new TaskCpuTime(), CancellationToken.None).GetAwaiter().GetResult();
            micros[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        return micros;
    }

    /// <summary>The job the inference runtime sends for one row of the MLP.</summary>
    private static JsonObject Job(byte[] bytes, string path)
    {
        using var session = new InferenceSession(bytes);
        var model = new ModelInfo(
            Convert.ToHexStringLower(SHA256.HashData(bytes)),
            bytes.Length,
            ModelInspector.Describe(session.InputNames, session.InputMetadata),
            ModelInspector.Describe(session.OutputNames, session.OutputMetadata),
            ModelInfo.Uploaded,
            DateTimeOffset.UnixEpoch);
        return new JsonObject
        {
            ["model"] = ModelInfoJson.Write(model),
            ["path"] = path,
            ["threads"] = 1,
            ["cuda"] = false,
            ["cacheBytes"] = 64L * 1024 * 1024,
            ["memoryArena"] = true, // as `auto` sends on a machine where runs give their buffers back (this one)
            ["keepArena"] = false,
            ["data"] = new JsonObject
            {
                ["inputs"] = new JsonObject { ["x"] = new JsonObject { ["type"] = "float32", ["shape"] = new JsonArray(1, TestModels.MlpInputs), ["data"] = new JsonArray(1, 2, 3, 4) } },
            },
        };
    }
}
