using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;

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
/// same for the same task and seed. Cancellation is checked between epochs (and between MLP batches).
/// </remarks>
internal sealed partial class TrainRuntime(BlobStore blobs, ILogger<TrainRuntime> logger) : ITaskRuntime
{
    public const string TaskType = "train";

    public IReadOnlyCollection<string> Types { get; } = [TaskType];

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
        var (data, dataField) = request.Data is { } inline ? (inline, "data") : (await LoadBlobAsync(request.DataBlob!, token), "dataBlob");
        var plan = TrainPlan.Create(request, data, dataField, errors)
            ?? throw new TaskExecutionException(request.Data is null ? $"the blob {request.DataBlob} does not fit the model: {errors}" : errors.ToString());

        var outcome = await Task.Run(
            () => plan.Model == TrainModel.Mlp ? MlpTrainer.Train(plan, context.Progress, token) : LinearTrainer.Train(plan, context.Progress, token),
            token);
        Log.Trained(logger, context.Task.TaskId, TrainRequestReader.Models[(int)plan.Model], data.Rows, data.Columns, outcome.LossHistory.Count, outcome.LossHistory[^1]);
        return Result(plan, outcome);
    }

    private async Task<TrainingData> LoadBlobAsync(string sha256, CancellationToken token)
    {
        var bytes = await blobs.ReadAsync(sha256, token)
            ?? throw new TaskExecutionException($"data.dataBlob: the blob {sha256} was removed after the task was submitted");
        var errors = new ValidationErrors();
        return TrainRequestReader.ReadBlobData(bytes, errors)
            ?? throw new TaskExecutionException($"the blob {sha256} (data.dataBlob) is not training data: {errors}");
    }

    private static JsonObject Result(TrainPlan plan, TrainingOutcome outcome)
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
