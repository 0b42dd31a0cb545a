using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Optimization;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// The <c>inference</c> task: runs a stored ONNX model on input tensors. <c>data.model</c> is the model's
/// sha256; <c>data.inputs</c> maps input names to tensors (<see cref="TensorJson"/>), giving
/// <c>{"outputs":{name: tensor}}</c>; or <c>data.batch</c> is an array of such maps, giving
/// <c>{"outputs":[…one map per set…]}</c>. Sets are run as one call, concatenated along the first
/// dimension, when every input and output of the model has a dynamic first dimension; otherwise one
/// after another. A task with <c>requirements.gpuCount &gt; 0</c> runs on CUDA device 0 or fails with
/// the reason CUDA is unavailable; it never falls back to the CPU.
/// </summary>
/// <remarks>Thread-safe: sessions are shared through the <see cref="SessionCache"/>.</remarks>
internal sealed partial class InferenceRuntime(
    ModelCatalog catalog,
    SessionCache sessions,
    OnnxCapabilities capabilities,
    ILogger<InferenceRuntime> logger) : ITaskRuntime
{
    public const string TaskType = "inference";

    /// <summary>The most input sets one task may carry in <c>data.batch</c>.</summary>
    public const int MaxBatchSets = 1024;

    private long _runs;

    public IReadOnlyCollection<string> Types { get; } = [TaskType];

    /// <summary>Calls into ONNX Runtime since start: a batch run as one call counts once.</summary>
    public long Runs => Interlocked.Read(ref _runs);

    public void Validate(TaskSpec task, ValidationErrors errors) => _ = Parse(task, errors);

    /// <summary>
    /// Keyed by the model's sha256. Declared work: two operations (a multiply and an add) per weight per input set,
    /// a weight taken as 4 bytes of the model file, divided by the float benchmark.
    /// </summary>
    public TaskCostInput DescribeCost(TaskSpec task)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (task.Data["model"] is not JsonValue value || !value.TryGetValue<string>(out var sha256) || catalog.Find(sha256.ToLowerInvariant()) is not { } model)
        {
            return TaskCostInput.OfType(task.Type);
        }

        var sets = task.Data["batch"] is JsonArray batch ? Math.Max(batch.Count, 1) : 1;
        return new TaskCostInput("model:" + model.Sha256, model.Size / 4.0 * 2 * sets, TaskCostInput.FloatSpeed);
    }

    public Task<JsonObject> ExecuteAsync(TaskExecutionContext context)
    {
        var errors = new ValidationErrors();
        var request = Parse(context.Task, errors);
        if (request is null || !errors.IsEmpty)
        {
            throw new TaskExecutionException(errors.ToString());
        }

        return Task.Run(() => Execute(request, context), context.CancellationToken);
    }

    /// <summary>The message of a GPU task on a node whose ONNX Runtime cannot use CUDA.</summary>
    public static string GpuUnavailable(string reason) => $"this node cannot run GPU tasks: CUDA execution provider unavailable: {reason}";

    private JsonObject Execute(InferenceRequest request, TaskExecutionContext context)
    {
        var task = context.Task;
        var cuda = task.Requirements.GpuCount > 0;
        if (cuda && !capabilities.CudaAvailable)
        {
            throw new TaskExecutionException(GpuUnavailable(capabilities.CudaUnavailableReason ?? "unknown"));
        }

        var threads = OnnxTuning.IntraOpThreads(task.Requirements.Cpu);
        var model = request.Model;
        var path = catalog.PathOf(model);
        using var lease = sessions.Acquire(new SessionKey(model.Sha256, threads, cuda), model.Size, () => Load(model, path, threads, cuda));
        var session = lease.Session;
        var token = context.CancellationToken;
        if (!request.IsBatch)
        {
            var outputs = Run(session, request.Sets[0], token);
            context.Progress.Report(1);
            return new JsonObject { ["outputs"] = OutputsJson(outputs) };
        }

        var results = CanBatch(model, request.Sets) ? RunBatched(session, request.Sets, token) : null;
        if (results is null)
        {
            results = [];
            for (var i = 0; i < request.Sets.Count; i++)
            {
                results.Add(Run(session, request.Sets[i], token));
                context.Progress.Report((i + 1) / (double)request.Sets.Count);
            }
        }

        context.Progress.Report(1);
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

            // Without the arena, the buffers of a run are freed when it ends: with it, a cached session keeps the
            // most any run ever needed (a few bytes of model can ask for gigabytes) for as long as it is cached.
            EnableCpuMemArena = false,
        };

        // Spinning worker threads would burn the cores the ledger lent to other tasks.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        if (cuda && OnnxCapabilities.TryAppendCuda(options) is { } reason)
        {
            throw new TaskExecutionException(GpuUnavailable(reason));
        }

        try
        {
            var session = new InferenceSession(path, options);
            Log.SessionLoaded(logger, model.Sha256, threads, cuda ? OnnxCapabilities.CudaProvider : "CPUExecutionProvider");
            return session;
        }
        catch (OnnxRuntimeException e) when (cuda)
        {
            throw new TaskExecutionException(GpuUnavailable(e.Message), e);
        }
        catch (OnnxRuntimeException e)
        {
            throw new TaskExecutionException($"model {model.Sha256} cannot be loaded: {OnnxModelScan.WithoutPaths(e.Message)}", e);
        }
    }

    private Dictionary<string, TensorValue> Run(InferenceSession session, IReadOnlyDictionary<string, TensorValue> inputs, CancellationToken token)
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
        InferenceSession session, IReadOnlyList<IReadOnlyDictionary<string, TensorValue>> sets, CancellationToken token)
    {
        var rows = sets.Select(s => s.Values.First().Shape[0]).ToArray();
        var total = rows.Sum();
        var combined = sets[0].Keys.ToDictionary(
            name => name,
            name => TensorValue.Concat([.. sets.Select(s => s[name])]),
            StringComparer.Ordinal);
        var outputs = Run(session, combined, token);
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

    /// <summary>Reads and checks <c>data</c>: the model exists, and every input set matches its inputs.</summary>
    private InferenceRequest? Parse(TaskSpec task, ValidationErrors errors)
    {
        var data = task.Data;
        ModelInfo? model = null;
        switch (data["model"])
        {
            case null:
                errors.Add("data.model", "is required: the sha256 of a model uploaded with PUT /api/models.");
                break;
            case var node when node.GetValueKind() != JsonValueKind.String:
                errors.AddTypeError("data.model", "must be a string: the sha256 of a stored model.");
                break;
            case var node:
                var sha256 = node.GetValue<string>().ToLowerInvariant();
                if (!BlobStore.IsHash(sha256))
                {
                    errors.Add("data.model", $"'{node.GetValue<string>()}' is not a sha256 (64 hex characters).");
                    break;
                }

                try
                {
                    model = catalog.Find(sha256);
                    if (model is null)
                    {
                        errors.Add("data.model", $"no model {sha256} is stored on this node; upload it first with PUT /api/models.");
                    }
                    else if (model.Size > task.Requirements.MemoryMB * 1024 * 1024)
                    {
                        // A loaded model takes at least its file's size in memory, which the task's reservation must cover.
                        errors.Add("requirements.memoryMB", $"is {task.Requirements.MemoryMB} MB, but the model's weights alone take {Math.Ceiling(model.Size / (1024.0 * 1024))} MB once loaded; reserve at least that much.");
                    }
                }
                catch (InvalidModelException e)
                {
                    errors.Add("data.model", $"{e.Message}.");
                }

                break;
        }

        var inputs = data["inputs"];
        var batch = data["batch"];
        if (inputs is not null && batch is not null)
        {
            errors.Add("data", "give either data.inputs (one input set) or data.batch (several), not both.");
            return null;
        }

        if (inputs is null && batch is null)
        {
            errors.Add("data.inputs", "is required: an object of input name → tensor, e.g. {\"x\":{\"type\":\"float32\",\"shape\":[1,4],\"data\":[1,2,3,4]}}.");
            return null;
        }

        if (model is null)
        {
            return null;
        }

        List<IReadOnlyDictionary<string, TensorValue>> sets = [];
        if (inputs is not null)
        {
            if (inputs is not JsonObject set)
            {
                errors.AddTypeError("data.inputs", "must be an object of input name → tensor.");
                return null;
            }

            sets.Add(ParseSet(set, "data.inputs", model, errors));
        }
        else
        {
            if (batch is not JsonArray array)
            {
                errors.AddTypeError("data.batch", "must be an array of input sets (objects of input name → tensor).");
                return null;
            }

            if (array.Count is 0 or > MaxBatchSets)
            {
                errors.Add("data.batch", $"must hold 1 to {MaxBatchSets} input sets; it holds {array.Count}.");
                return null;
            }

            for (var i = 0; i < array.Count; i++)
            {
                if (array[i] is not JsonObject set)
                {
                    errors.AddTypeError($"data.batch[{i}]", "must be an object of input name → tensor.");
                    continue;
                }

                sets.Add(ParseSet(set, $"data.batch[{i}]", model, errors));
            }
        }

        return errors.IsEmpty ? new InferenceRequest(model, sets, IsBatch: batch is not null) : null;
    }

    private static Dictionary<string, TensorValue> ParseSet(JsonObject set, string prefix, ModelInfo model, ValidationErrors errors)
    {
        var parsed = new Dictionary<string, TensorValue>(StringComparer.Ordinal);
        foreach (var (name, node) in set)
        {
            var declared = model.Input(name);
            if (declared is null)
            {
                errors.Add($"{prefix}.{name}", $"the model has no input '{name}'; its inputs are {Describe(model.Inputs)}.");
                continue;
            }

            if (TensorJson.Parse(node, $"{prefix}.{name}", declared, errors) is { } tensor)
            {
                parsed[name] = tensor;
            }
        }

        foreach (var declared in model.Inputs.Where(i => !set.ContainsKey(i.Name)))
        {
            errors.Add($"{prefix}.{declared.Name}", $"is required: the model takes {declared.Name} {declared.Type} {declared.ShapeText}.");
        }

        return parsed;
    }

    private static string Describe(IReadOnlyList<ModelTensorInfo> tensors) =>
        string.Join(", ", tensors.Select(t => $"{t.Name} {t.Type} {t.ShapeText}"));

    private sealed record InferenceRequest(ModelInfo Model, IReadOnlyList<IReadOnlyDictionary<string, TensorValue>> Sets, bool IsBatch);
}
