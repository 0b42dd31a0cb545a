using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Runtimes.Workers;

namespace Tenzro.Node.Runtimes.Training;

/// <summary>
/// The training worker's job: one <c>train</c> task, <c>{"data","blobPath"}</c> (the task's <c>data</c>, and the path
/// of the stored blob <c>data.dataBlob</c> names, which the node has checked).
/// </summary>
/// <remarks>Runs in the worker process, one job at a time.</remarks>
internal sealed class TrainWorkerJob : IWorkerJob
{
    private long _runs;

    public TrainWorkerJob()
    {
        // Loads ML.NET and compiles the training paths now, so that their cost is the worker's baseline and not part
        // of the first task's memory.
        foreach (var model in TrainRequestReader.Models)
        {
            var data = new JsonObject
            {
                ["model"] = model,
                ["features"] = new JsonArray(new JsonArray(0.0), new JsonArray(1.0), new JsonArray(2.0), new JsonArray(3.0)),
                ["labels"] = new JsonArray(0.0, 0.0, 1.0, 1.0),
                ["hyperparameters"] = new JsonObject { ["epochs"] = 1 },
            };
            Run(new JsonObject { ["data"] = data }, new Progress<double>());
        }

        _runs = 0;
    }

    public JsonObject Run(JsonObject job, IProgress<double> progress)
    {
        var errors = new ValidationErrors();
        var blobPath = job["blobPath"]?.GetValue<string>();
        var request = TrainRequestReader.Read((JsonObject)job["data"]!, _ => blobPath is null ? null : new FileInfo(blobPath).Length, errors)
            ?? throw new TaskExecutionException(errors.ToString());
        TrainingData data;
        string dataField;
        if (request.Data is { } inline)
        {
            (data, dataField) = (inline, "data");
        }
        else
        {
            var bytes = File.Exists(blobPath) ? File.ReadAllBytes(blobPath) : throw new TaskExecutionException($"data.dataBlob: the blob {request.DataBlob} was removed after the task was submitted");
            data = TrainRequestReader.ReadBlobData(bytes, errors)
                ?? throw new TaskExecutionException($"the blob {request.DataBlob} (data.dataBlob) is not training data: {errors}");
            dataField = "dataBlob";
        }

        var (plan, outcome) = TrainRuntime.Train(request, data, dataField, progress, CancellationToken.None);
        _runs++;
        return TrainRuntime.Result(plan, outcome);
    }

    public JsonObject Stats() => new() { ["runs"] = _runs };
}
