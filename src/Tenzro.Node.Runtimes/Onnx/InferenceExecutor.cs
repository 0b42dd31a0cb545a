using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// Runs checked inference requests through ONNX Runtime with sessions from a <see cref="SessionCache"/>: in the
/// ONNX Runtime worker process (the node's default), or in the node's process where workers are turned off.
/// Sets are run as one call, concatenated along the first dimension, when every input and output of the model
/// has a dynamic first dimension; otherwise one after another.
/// </summary>
/// <remarks>Thread-safe: sessions are shared through the cache.</remarks>
/// <param name="sessions">The sessions kept for the next run.</param>
/// <param name="logger">Where session loads are logged.</param>
/// <param name="memoryArena">Whether sessions use ONNX Runtime's CPU memory arena (<see cref="OnnxTuning.MemoryArena"/>).</param>
internal sealed partial class InferenceExecutor(SessionCache sessions, ILogger logger, bool memoryArena = false)
{
    /// <summary>ONNX Runtime's run option that frees the arena's unused regions on the given devices as a run ends.</summary>
    private const string ArenaShrinkage = "memory.enable_memory_arena_shrinkage";

    private long _runs;
    private long _arenaLoads;
    private long _arenaReleases;

    /// <summary>Calls into ONNX Runtime since start: a batch run as one call counts once.</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>Sessions loaded with the CPU memory arena since start.</summary>
    public long ArenaLoads => Interlocked.Read(ref _arenaLoads);

    /// <summary>Runs that gave the arena's free memory back as they ended (<see cref="OnnxTuning.KeepArenaNow"/>), since start.</summary>
    public long ArenaReleases => Interlocked.Read(ref _arenaReleases);

    public SessionCache Sessions => sessions;

    /// <summary>Runs <paramref name="request"/> on the model at <paramref name="path"/> and gives the task's result.</summary>
    /// <param name="keepArena">
    /// With the arena: false gives back the arena's free memory as each run ends (the buffers of the run), true keeps it
    /// for the next run (<see cref="OnnxTuning.KeepArenaNow"/>).
    /// </param>
    /// <exception cref="TaskExecutionException">The model cannot be loaded or fails on these inputs.</exception>
    public JsonObject Execute(InferenceRequest request, string path, int threads, bool cuda, IProgress<double> progress, CancellationToken token, bool keepArena = true)
    {
        var release = memoryArena && !keepArena;
        var model = request.Model;
        using var lease = sessions.Acquire(new SessionKey(model.Sha256, threads, cuda), model.Size, () => Load(model, path, threads, cuda));
        var session = lease.Session;
        if (!request.IsBatch)
        {
            var outputs = Run(session, request.Sets[0], release, token);
            progress.Report(1);
            return new JsonObject { ["outputs"] = OutputsJson(outputs) };
        }

        var results = CanBatch(model, request.Sets) ? RunBatched(session, request.Sets, release, token) : null;
        if (results is null)
        {
            results = [];
            for (var i = 0; i < request.Sets.Count; i++)
            {
                results.Add(Run(session, request.Sets[i], release, token));
                progress.Report((i + 1) / (double)request.Sets.Count);
            }
        }

        progress.Report(1);
        return new JsonObject { ["outputs"] = new JsonArray([.. results.Select(r => (JsonNode)OutputsJson(r))]) };
    }

    private InferenceSession Load(ModelInfo model, string path, int threads, bool cuda)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,

            // Without the arena, the buffers of a run are freed when it ends: with it, the process keeps the most any
            // run ever needed (a few bytes of model can ask for gigabytes) for its next runs, which ONNX_MEMORY_ARENA
            // allows only where the memory is there (OnnxTuning.KeepArenaRule, at each run).
            EnableCpuMemArena = false,
        };
        if (memoryArena)
        {
            CpuArena.Use(options);
        }

        // Spinning worker threads would burn the cores the ledger lent to other tasks.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        if (cuda && OnnxCapabilities.TryAppendCuda(options) is { } reason)
        {
            throw new TaskExecutionException(InferenceRuntime.GpuUnavailable(reason));
        }

        try
        {
            var session = new InferenceSession(path, options);
            if (memoryArena)
            {
                Interlocked.Increment(ref _arenaLoads);
            }

            Log.SessionLoaded(logger, model.Sha256, threads, cuda ? OnnxCapabilities.CudaProvider : "CPUExecutionProvider");
            return session;
        }
        catch (OnnxRuntimeException e) when (cuda)
        {
            throw new TaskExecutionException(InferenceRuntime.GpuUnavailable(e.Message), e);
        }
        catch (OnnxRuntimeException e)
        {
            throw new TaskExecutionException($"model {model.Sha256} cannot be loaded: {OnnxModelScan.WithoutPaths(e.Message)}", e);
        }
    }

    private Dictionary<string, TensorValue> Run(InferenceSession session, IReadOnlyDictionary<string, TensorValue> inputs, bool releaseArena, CancellationToken token)
    {
        var names = inputs.Keys.ToArray();
        var values = new List<OrtValue>(names.Length);
        try
        {
            foreach (var name in names)
            {
                values.Add(inputs[name].ToOrtValue());
            }

            using var runOptions = new RunOptions();
            if (releaseArena)
            {
                // The arena extends by what a run asks for (CpuArena), so each of the run's large buffers has a region of
                // its own, which the shrinkage frees as the run ends.
                runOptions.AddRunConfigEntry(ArenaShrinkage, "cpu:0");
                Interlocked.Increment(ref _arenaReleases);
            }

            token.ThrowIfCancellationRequested();
            using var registration = token.Register(() => runOptions.Terminate = true);
            Interlocked.Increment(ref _runs);
            using var outputs = session.Run(runOptions, names, values, session.OutputNames);
            var result = new Dictionary<string, TensorValue>(StringComparer.Ordinal);
            for (var i = 0; i < outputs.Count; i++)
            {
                result[session.OutputNames[i]] = TensorValue.FromOrtValue(session.OutputNames[i], outputs[i]);
            }

            return result;
        }
        catch (OnnxRuntimeException) when (token.IsCancellationRequested)
        {
            throw new OperationCanceledException(token);
        }
        catch (OnnxRuntimeException e)
        {
            throw new TaskExecutionException($"the model failed on these inputs: {OnnxModelScan.WithoutPaths(e.Message)}", e);
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    /// <summary>
    /// True when the sets can be one call: every input and output is a tensor whose first dimension is
    /// dynamic (and, where named, the same name), each set's inputs agree on that dimension, and the sets
    /// agree on every other dimension.
    /// </summary>
    private static bool CanBatch(ModelInfo model, IReadOnlyList<IReadOnlyDictionary<string, TensorValue>> sets)
    {
        var declared = model.Inputs.Concat(model.Outputs).ToList();
        if (declared.Any(t => !t.IsTensor || t.Shape.Count == 0 || t.Shape[0] >= 0))
        {
            return false;
        }

        if (declared.Select(t => t.DimensionNames[0]).Where(n => n.Length > 0).Distinct(StringComparer.Ordinal).Count() > 1)
        {
            return false;
        }

        foreach (var set in sets)
        {
            if (set.Values.Select(t => t.Shape[0]).Distinct().Count() != 1)
            {
                return false;
            }
        }

        foreach (var input in model.Inputs)
        {
            var first = sets[0][input.Name].Shape;
            if (sets.Any(s => !s[input.Name].Shape.AsSpan(1).SequenceEqual(first.AsSpan(1))))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Runs the sets as one call and splits the outputs; null when an output does not follow the batch.</summary>
    private List<Dictionary<string, TensorValue>>? RunBatched(
        InferenceSession session, IReadOnlyList<IReadOnlyDictionary<string, TensorValue>> sets, bool releaseArena, CancellationToken token)
    {
        var rows = sets.Select(s => s.Values.First().Shape[0]).ToArray();
        var total = rows.Sum();
        var combined = sets[0].Keys.ToDictionary(
            name => name,
            name => TensorValue.Concat([.. sets.Select(s => s[name])]),
            StringComparer.Ordinal);
        var outputs = Run(session, combined, releaseArena, token);
        if (outputs.Values.Any(o => o.Shape.Length == 0 || o.Shape[0] != total))
        {
            return null;
        }

        var results = new List<Dictionary<string, TensorValue>>(sets.Count);
        long start = 0;
        foreach (var count in rows)
        {
            results.Add(outputs.ToDictionary(o => o.Key, o => o.Value.SliceRows(start, count), StringComparer.Ordinal));
            start += count;
        }

        return results;
    }

    private static JsonObject OutputsJson(Dictionary<string, TensorValue> outputs)
    {
        var json = new JsonObject();
        foreach (var (name, tensor) in outputs)
        {
            json[name] = TensorJson.ToJson(tensor);
        }

        return json;
    }

}
