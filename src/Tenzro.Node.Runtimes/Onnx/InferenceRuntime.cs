using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Optimization;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Runtimes.Workers;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// The <c>inference</c> task: runs a stored ONNX model on input tensors. <c>data.model</c> is the model's
/// sha256; <c>data.inputs</c> maps input names to tensors (<see cref="TensorJson"/>), giving
/// <c>{"outputs":{name: tensor}}</c>; or <c>data.batch</c> is an array of such maps, giving
/// <c>{"outputs":[…one map per set…]}</c>. A task with <c>requirements.gpuCount &gt; 0</c> runs on CUDA device 0
/// or fails with the reason CUDA is unavailable; it never falls back to the CPU. The node checks the task;
/// ONNX Runtime runs it in a worker process held to the task's memory (<see cref="WorkerPool"/>), or in the
/// node's process where workers are turned off (<c>TASK_WORKERS=false</c>).
/// </summary>
/// <remarks>Thread-safe.</remarks>
internal sealed class InferenceRuntime(
    ModelCatalog catalog,
    InferenceExecutor executor,
    OnnxCapabilities capabilities,
    OnnxWorkers workers,
    OnnxTuning tuning) : ITaskRuntime
{
    public const string TaskType = "inference";

    /// <summary>
    /// Host memory a worker may take beyond a GPU task's reservation for the CUDA runtime itself (its context, the
    /// driver's mappings), which the task did not ask for; charged once per worker in practice, as the session stays cached.
    /// </summary>
    public const long CudaHostBytes = 2L * 1024 * 1024 * 1024;

    /// <summary>What one operator of a model's graph is taken to cost a run, beside its multiply-adds, in ms (its dispatch; see docs/HARDWARE.md).</summary>
    public const double OperatorMs = 0.001;

    /// <summary>The operators of each model's graph, counted once (a model never changes under its hash).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int?> _operators = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> Types { get; } = [TaskType];

    /// <summary>Calls into ONNX Runtime since start, in the workers and in this process: a batch run as one call counts once.</summary>
    public long Runs => executor.Runs + (workers.Pool?.Total("runs", includeEnded: true) ?? 0);

    /// <summary>False while ONNX Runtime runs in workers: a native crash then ends a worker, not the node.</summary>
    public bool MayCrashTheProcess => workers.Pool is null;

    /// <summary>True while ONNX Runtime runs in workers: an inference reads its model and writes nothing but its result.</summary>
    public bool StartsBeforeStored => workers.Pool is not null;

    /// <summary>In a worker, a task of a fraction of a core is held to it by a CPU quota on the worker where one can be made.</summary>
    public bool HoldsCpuFraction => workers.Pool is not null && Core.Resources.ThreadCpu.CanLimit;

    public void Validate(TaskSpec task, ValidationErrors errors)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(errors);
        if (task.Requirements.GpuCount > 0 && !tuning.CudaAllowed)
        {
            errors.Add("requirements.gpuCount", $"is {task.Requirements.GpuCount}, but this node runs ONNX Runtime on the CPU only (ONNX_EXECUTION_PROVIDER=cpu); ask for no GPU.");
        }

        _ = Parse(task, errors);
    }

    /// <summary>
    /// Keyed by the model's sha256, and the call by the shapes of its inputs. Declared work: two operations (a multiply
    /// and an add) per weight per row of input (the inputs' first dimension, the batch, summed over the input sets), a
    /// weight taken as 4 bytes of the model file, divided by the float benchmark; and <see cref="OperatorMs"/> for each
    /// operator of the model's graph, dispatched once a run whatever the rows.
    /// </summary>
    public TaskCostInput DescribeCost(TaskSpec task)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (task.Data["model"] is not JsonValue value || !value.TryGetValue<string>(out var sha256) || catalog.Find(sha256.ToLowerInvariant()) is not { } model)
        {
            return TaskCostInput.OfType(task.Type);
        }

        var (rows, shapes) = InputRows(task.Data);
        var key = "model:" + model.Sha256;
        var operators = _operators.GetOrAdd(model.Sha256, _ => CountOperators(model));
        return new TaskCostInput(key, model.Size / 4.0 * 2 * rows, TaskCostInput.FloatSpeed)
        {
            CallKey = TaskCostInput.CallKeyOf(key, shapes),
            FixedMs = (operators ?? 0) * OperatorMs,
        };
    }

    /// <summary>The rows of input a task gives (the first dimension of its largest input, per set, summed; at least 1 a set), and its inputs' names and shapes as text.</summary>
    internal static (long Rows, string Shapes) InputRows(JsonObject data)
    {
        IEnumerable<JsonNode?> sets = data["batch"] is JsonArray batch ? batch.Take(InferenceRequestReader.MaxBatchSets) : [data["inputs"]];
        var shapes = new System.Text.StringBuilder();
        long rows = 0;
        foreach (var set in sets)
        {
            long setRows = 1;
            foreach (var (name, tensor) in set as JsonObject ?? [])
            {
                shapes.Append(name).Append(':');
                if (tensor?["shape"] is JsonArray shape)
                {
                    foreach (var dimension in shape)
                    {
                        shapes.Append(dimension?.ToJsonString()).Append(',');
                    }

                    if (shape.Count > 0 && shape[0] is JsonValue first && first.TryGetValue<long>(out var leading) && leading > setRows)
                    {
                        setRows = leading;
                    }
                }

                shapes.Append(';');
            }

            shapes.Append('|');
            rows += setRows;
        }

        return (Math.Max(rows, 1), shapes.ToString());
    }

    private int? CountOperators(ModelInfo model)
    {
        try
        {
            using var file = new FileStream(catalog.PathOf(model), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 4096);
            return OnnxOperators.Count(file);
        }
        catch (IOException)
        {
            return null; // deleted meanwhile: the run will say so; the estimate goes without its operators
        }
    }

    /// <summary>
    /// The session caches' figures: the workers' (sessions and bytes of the live ones, counters since start) or this
    /// process's; <c>arenaLoads</c> counts the sessions loaded with ONNX Runtime's CPU memory arena (ONNX_MEMORY_ARENA), and
    /// <c>arenaReleases</c> the runs that gave the arena's buffers back as they ended.
    /// </summary>
    public JsonObject SessionCacheJson()
    {
        if (workers.Pool is not { } pool)
        {
            var json = executor.Sessions.ToJson();
            json["arenaLoads"] = executor.ArenaLoads;
            json["arenaReleases"] = executor.ArenaReleases;
            return json;
        }

        return new JsonObject
        {
            ["sessions"] = pool.Total("sessionCache.sessions", includeEnded: false),
            ["bytes"] = pool.Total("sessionCache.bytes", includeEnded: false),
            ["capacityBytes"] = workers.CacheBytesPerWorker,
            ["hits"] = pool.Total("sessionCache.hits", includeEnded: true),
            ["loads"] = pool.Total("sessionCache.loads", includeEnded: true),
            ["evictions"] = pool.Total("sessionCache.evictions", includeEnded: true),
            ["arenaLoads"] = pool.Total("arenaLoads", includeEnded: true),
            ["arenaReleases"] = pool.Total("arenaReleases", includeEnded: true),
        };
    }

    /// <summary>The worker pool's figures, or null when ONNX Runtime runs in the node's process.</summary>
    public JsonObject? WorkersJson() => workers.Pool?.ToJson();

    public Task<JsonObject> ExecuteAsync(TaskExecutionContext context)
    {
        var task = context.Task;
        var cuda = task.Requirements.GpuCount > 0;
        if (cuda && !tuning.CudaAllowed)
        {
            // Queued before the node was restarted with the setting.
            throw new TaskExecutionException("this node runs ONNX Runtime on the CPU only (ONNX_EXECUTION_PROVIDER=cpu): a task that asks for a GPU cannot run here");
        }

        if (cuda && !capabilities.CudaAvailable)
        {
            throw new TaskExecutionException(GpuUnavailable(capabilities.CudaUnavailableReason ?? "unknown"));
        }

        var threads = tuning.IntraOpThreadsFor(task.Requirements.Cpu);
        if (workers.Pool is { } pool)
        {
            var errors = new ValidationErrors();
            var model = FindModel(task, errors);
            if (model is null || !errors.IsEmpty)
            {
                throw new TaskExecutionException(errors.ToString());
            }

            var job = new JsonObject
            {
                ["model"] = ModelInfoJson.Write(model),
                ["path"] = catalog.PathOf(model),
                ["threads"] = threads,
                ["cuda"] = cuda,
                ["cacheBytes"] = workers.CacheBytesPerWorker,
                ["memoryArena"] = tuning.MemoryArena,
                ["keepArena"] = tuning.KeepArenaNow(),
                ["data"] = task.Data.DeepClone(),
            };
            var reserved = task.Requirements.MemoryMB * 1024 * 1024;
            return pool.RunAsync(
                job, reserved, task.Requirements.Cpu, $"{model.Sha256}/{threads}/{cuda}", context.Progress, context.CpuTime, context.CancellationToken, cuda ? CudaHostBytes : 0, context.MemoryPeak);
        }

        var checkErrors = new ValidationErrors();
        var request = Parse(task, checkErrors);
        if (request is null || !checkErrors.IsEmpty)
        {
            throw new TaskExecutionException(checkErrors.ToString());
        }

        var path = catalog.PathOf(request.Model);
        return Task.Run(() => executor.Execute(request, path, threads, cuda, context.Progress, context.CancellationToken, tuning.KeepArenaNow()), context.CancellationToken);
    }

    /// <summary>The message of a GPU task on a node whose ONNX Runtime cannot use CUDA.</summary>
    public static string GpuUnavailable(string reason) => $"this node cannot run GPU tasks: CUDA execution provider unavailable: {reason}";

    /// <summary>Reads and checks <c>data</c>: the model exists, and every input set matches its inputs.</summary>
    private InferenceRequest? Parse(TaskSpec task, ValidationErrors errors)
    {
        var model = FindModel(task, errors);
        return InferenceRequestReader.Read(task.Data, model, errors) is { } request && errors.IsEmpty ? request : null;
    }

    /// <summary>The stored model <c>data.model</c> names, checked against the task's memory; null (with errors) when there is none.</summary>
    private ModelInfo? FindModel(TaskSpec task, ValidationErrors errors)
    {
        ModelInfo? model = null;
        var given = new JsonFields(task.Data, "data", errors).RequiredString(
            "model", "is required: the sha256 of a model uploaded with PUT /api/models.", "must be a string: the sha256 of a stored model.");
        if (given is null)
        {
            return null;
        }

        var sha256 = given.ToLowerInvariant();
        if (!BlobStore.IsHash(sha256))
        {
            errors.Add("data.model", $"'{given}' is not a sha256 (64 hex characters).");
            return null;
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

        return model;
    }
}
