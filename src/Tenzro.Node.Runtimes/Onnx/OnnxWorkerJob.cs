using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Runtimes.Workers;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// The ONNX Runtime worker's job: one inference request, <c>{"model","path","threads","cuda","cacheBytes","memoryArena","keepArena","data"}</c>,
/// run with the worker's own session cache (sized by the memory each session was measured to take) and, where
/// <c>memoryArena</c> says so, ONNX Runtime's CPU memory arena (the node's choice, the same for every job), which keeps
/// the run's buffers for the next job only where <c>keepArena</c> says so (decided by the node at each job).
/// </summary>
/// <remarks>Runs in the worker process, one job at a time.</remarks>
internal sealed class OnnxWorkerJob : IWorkerJob
{
    private SessionCache? _sessions;
    private InferenceExecutor? _executor;

    public OnnxWorkerJob()
    {
        // Loads ONNX Runtime's native library and compiles the run path now, so that its cost is the worker's baseline
        // and not part of the first task's memory.
        _ = OrtEnv.Instance();
        var warm = new InferenceExecutor(new SessionCache(SessionCache.DefaultCapacityBytes), NullLogger.Instance);
        var model = OnnxModelWriter.Write(new OnnxGraph(
            "warm",
            [new OnnxNode("Identity", ["x"], ["y"], "identity")],
            [],
            [new OnnxValueInfo("x", OnnxDataType.Float, [OnnxDim.Fixed(1)])],
            [new OnnxValueInfo("y", OnnxDataType.Float, [OnnxDim.Fixed(1)])]));
        var path = Path.Combine(Path.GetTempPath(), $"tenzro-worker-{Environment.ProcessId}.onnx");
        try
        {
            File.WriteAllBytes(path, model);
            var info = new ModelInfo("warm", model.Length, [new ModelTensorInfo("x", TensorTypes.Float32, [1], [""])], [new ModelTensorInfo("y", TensorTypes.Float32, [1], [""])], ModelInfo.Uploaded, DateTimeOffset.UnixEpoch);
            var request = new InferenceRequest(info, [new Dictionary<string, TensorValue> { ["x"] = new TensorValue(TensorTypes.Float32, [1], new float[] { 1 }) }], IsBatch: false);
            warm.Execute(request, path, 1, cuda: false, new Progress<double>(), CancellationToken.None);
        }
        finally
        {
            warm.Sessions.Dispose();
            File.Delete(path);
        }
    }

    public JsonObject Run(JsonObject job, IProgress<double> progress)
    {
        _sessions ??= new SessionCache(job["cacheBytes"]!.GetValue<long>(), measureMemory: static () => Environment.WorkingSet);
        _executor ??= new InferenceExecutor(_sessions, NullLogger.Instance, memoryArena: job["memoryArena"]?.GetValue<bool>() == true);
        var model = ModelInfoJson.Read((JsonObject)job["model"]!);
        var errors = new ValidationErrors();
        var request = InferenceRequestReader.Read((JsonObject)job["data"]!, model, errors);
        if (request is null || !errors.IsEmpty)
        {
            throw new TaskExecutionException(errors.ToString());
        }

        return _executor.Execute(request, job["path"]!.GetValue<string>(), job["threads"]!.GetValue<int>(), job["cuda"]!.GetValue<bool>(), progress, CancellationToken.None, keepArena: job["keepArena"]?.GetValue<bool>() ?? true);
    }

    public JsonObject Stats() => new()
    {
        ["runs"] = _executor?.Runs ?? 0,
        ["arenaLoads"] = _executor?.ArenaLoads ?? 0,
        ["arenaReleases"] = _executor?.ArenaReleases ?? 0,
        ["sessionCache"] = _sessions?.ToJson() ?? new JsonObject(),
    };
}
