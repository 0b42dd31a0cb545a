using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Runtimes.Workers;

namespace Tenzro.Node.Runtimes.Training;

/// <summary>
/// The <c>train</c> task: fits a linear, logistic or MLP model to the data the task carries
/// (<c>data.features</c>, <c>data.labels</c>) or to a stored JSON blob (<c>data.dataBlob</c>), optionally
/// from <c>data.initialParameters</c>, and returns
/// <c>{"model","parameters","sampleCount","lossHistory","finalLoss","metrics","hyperparameters"}</c>.
/// <c>parameters</c> and <c>sampleCount</c> are what the <c>aggregate</c> strategy <c>federated_average</c>
/// averages, so one round of training can be split across nodes. See docs/TASKS.md, "train".
/// </summary>
/// <remarks>
/// Thread-safe: every execution has its own trainer state. Training runs on one thread; the result is the
/// same for the same task and seed. Cancellation is checked between epochs (and between MLP batches). The node
/// checks the task; the training runs in a worker process held to the task's memory (<see cref="WorkerPool"/>)
/// where <paramref name="workers"/> has a pool, else in the node's process.
/// </remarks>
internal sealed partial class TrainRuntime(BlobStore blobs, ILogger<TrainRuntime> logger, TrainWorkers? workers = null) : ITaskRuntime
{
    public const string TaskType = "train";

    public IReadOnlyCollection<string> Types { get; } = [TaskType];

    /// <summary>False while training runs in workers: a crash in ML.NET then ends a worker, not the node.</summary>
    public bool MayCrashTheProcess => workers?.Pool is null;

    /// <summary>In a worker, a task of a fraction of a core is held to it by a CPU quota on the worker where one can be made.</summary>
    public bool HoldsCpuFraction => workers?.Pool is not null && Core.Resources.ThreadCpu.CanLimit;

    public void Validate(TaskSpec task, ValidationErrors errors)
    {
        var request = TrainRequestReader.Read(task.Data, blobs, errors);
        if (request?.Data is { } data)
        {
            _ = TrainPlan.Create(request, data, "data", errors);
        }
    }

    public async Task<JsonObject> ExecuteAsync(TaskExecutionContext context)
    {
        var token = context.CancellationToken;
        var errors = new ValidationErrors();
        var request = TrainRequestReader.Read(context.Task.Data, blobs, errors) ?? throw new TaskExecutionException(errors.ToString());
        if (workers?.Pool is { } pool)
        {
            var job = new JsonObject
            {
                ["data"] = context.Task.Data.DeepClone(),
                ["blobPath"] = request.DataBlob is { } sha256 ? blobs.PathOf(sha256) : null,
            };
            var result = await pool.RunAsync(job, context.Task.Requirements.MemoryMB * 1024 * 1024, context.Task.Requirements.Cpu, null, context.Progress, context.CpuTime, token, memoryPeak: context.MemoryPeak);
            Log.TrainedInWorker(logger, context.Task.TaskId, result["model"]?.GetValue<string>() ?? "", result["sampleCount"]?.GetValue<int>() ?? 0, result["finalLoss"]?.GetValue<double>() ?? double.NaN);
            return result;
        }

        var (data, dataField) = request.Data is { } inline ? (inline, "data") : (await LoadBlobAsync(request.DataBlob!, token), "dataBlob");
        var (plan, outcome) = await Task.Run(() => Train(request, data, dataField, context.Progress, token), token);
        Log.Trained(logger, context.Task.TaskId, TrainRequestReader.Models[(int)plan.Model], data.Rows, data.Columns, outcome.LossHistory.Count, outcome.LossHistory[^1]);
        return Result(plan, outcome);
    }

    /// <summary>Plans and runs the training of a checked request on its data (in the node's process or a worker).</summary>
    /// <exception cref="TaskExecutionException">The data does not fit the model.</exception>
    public static (TrainPlan Plan, TrainingOutcome Outcome) Train(TrainRequest request, TrainingData data, string dataField, IProgress<double> progress, CancellationToken token)
    {
        var errors = new ValidationErrors();
        var plan = TrainPlan.Create(request, data, dataField, errors)
            ?? throw new TaskExecutionException(request.Data is null ? $"the blob {request.DataBlob} does not fit the model: {errors}" : errors.ToString());
        var outcome = plan.Model == TrainModel.Mlp ? MlpTrainer.Train(plan, progress, token) : LinearTrainer.Train(plan, progress, token);
        return (plan, outcome);
    }

    private async Task<TrainingData> LoadBlobAsync(string sha256, CancellationToken token)
    {
        var bytes = await blobs.ReadAsync(sha256, token)
            ?? throw new TaskExecutionException($"data.dataBlob: the blob {sha256} was removed after the task was submitted");
        var errors = new ValidationErrors();
        return TrainRequestReader.ReadBlobData(bytes, errors)
            ?? throw new TaskExecutionException($"the blob {sha256} (data.dataBlob) is not training data: {errors}");
    }

    /// <summary>The task's result for a finished training.</summary>
    public static JsonObject Result(TrainPlan plan, TrainingOutcome outcome)
    {
        var hyperparameters = plan.Hyperparameters;
        var echo = new JsonObject
        {
            ["epochs"] = hyperparameters.Epochs,
            ["learningRate"] = hyperparameters.LearningRate,
            ["l2"] = hyperparameters.L2,
            ["seed"] = hyperparameters.Seed,
        };
        var result = new JsonObject { ["model"] = TrainRequestReader.Models[(int)plan.Model] };
        if (plan.Architecture is { } architecture)
        {
            result["task"] = TrainRequestReader.Tasks[(int)plan.Request.Task];
            echo["batchSize"] = Math.Min(hyperparameters.BatchSize, plan.Data.Rows);
            echo["hiddenUnits"] = new JsonArray([.. hyperparameters.HiddenUnits.Select(u => (JsonNode)u)]);
            if (architecture.Output != MlpOutput.Identity)
            {
                echo["classes"] = architecture.Output == MlpOutput.Sigmoid ? 2 : architecture.Sizes[^1];
            }
        }

        result["parameters"] = outcome.Parameters;
        result["sampleCount"] = plan.Data.Rows;
        result["lossHistory"] = new JsonArray([.. outcome.LossHistory.Select(l => (JsonNode)l)]);
        result["finalLoss"] = outcome.LossHistory[^1];
        result["metrics"] = new JsonObject { [outcome.MetricName] = outcome.Metric };
        result["hyperparameters"] = echo;
        return result;
    }
}
