using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Runtimes.Training;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Runtimes.Training;

/// <summary>Data sets and task bodies for the train tests, and a way to run a train task without a node.</summary>
internal static class TrainTasks
{
    /// <summary>y = 2·x1 − 3·x2 + 1 on a grid over [−1, 1]², <paramref name="count"/> rows, no noise.</summary>
    public static (double[][] Features, double[] Labels) Plane(int count)
    {
        var features = new double[count][];
        var labels = new double[count];
        for (var i = 0; i < count; i++)
        {
            var x1 = -1 + (2.0 * (i % 17) / 16);
            var x2 = -1 + (2.0 * ((i * 7) % 13) / 12);
            features[i] = [x1, x2];
            labels[i] = (2 * x1) - (3 * x2) + 1;
        }

        return (features, labels);
    }

    /// <summary>Points labelled 1 where x1 + x2 &gt; 0.5, keeping only those at least 0.2 from that line.</summary>
    public static (double[][] Features, double[] Labels) Separable()
    {
        var features = new List<double[]>();
        var labels = new List<double>();
        for (var i = 0; i < 15; i++)
        {
            for (var j = 0; j < 15; j++)
            {
                var x1 = -1.5 + (i * 0.2);
                var x2 = -1.5 + (j * 0.2);
                var side = x1 + x2 - 0.5;
                if (Math.Abs(side) >= 0.2)
                {
                    features.Add([x1, x2]);
                    labels.Add(side > 0 ? 1 : 0);
                }
            }
        }

        return ([.. features], [.. labels]);
    }

    public static JsonObject Task(string model, double[][] features, double[] labels, JsonObject? hyperparameters = null, string? task = null, JsonObject? initialParameters = null)
    {
        var data = new JsonObject
        {
            ["model"] = model,
            ["features"] = Matrix(features),
            ["labels"] = new JsonArray([.. labels.Select(l => (JsonNode)l)]),
        };
        if (task is not null)
        {
            data["task"] = task;
        }

        if (hyperparameters is not null)
        {
            data["hyperparameters"] = hyperparameters;
        }

        if (initialParameters is not null)
        {
            data["initialParameters"] = initialParameters;
        }

        return new JsonObject { ["type"] = "train", ["data"] = data };
    }

    public static JsonArray Matrix(double[][] rows) => new([.. rows.Select(r => (JsonNode)new JsonArray([.. r.Select(x => (JsonNode)x)]))]);

    public static double[] Numbers(JsonNode? array) => [.. array!.AsArray().Select(x => x!.GetValue<double>())];

    /// <summary>Runs a train task's <c>data</c> through <see cref="TrainRuntime"/> directly (parsed as the API would).</summary>
    public static async Task<JsonObject> RunAsync(JsonObject task, CancellationToken cancellationToken = default)
    {
        var directory = TestNode.NewDirectory();
        try
        {
            var runtime = new TrainRuntime(new BlobStore(directory), NullLogger<TrainRuntime>.Instance);
            var spec = new TaskSpec
            {
                TaskId = "t-train",
                Type = "train",
                Data = JsonNode.Parse(task["data"]!.ToJsonString())!.AsObject(),
                Timeout = TimeSpan.FromMinutes(1),
            };
            var errors = new ValidationErrors();
            runtime.Validate(spec, errors);
            Assert.True(errors.IsEmpty, errors.ToString());
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeouts.Long);
            var result = await runtime.ExecuteAsync(new TaskExecutionContext
            {
                Task = spec,
                CancellationToken = timeout.Token,
                Deadline = DateTimeOffset.UtcNow + Timeouts.Long,
                Progress = new Progress<double>(),
                ScratchDirectory = Path.Combine(directory, "scratch"),
            }).WaitAsync(Timeouts.Long, CancellationToken.None);

            // As the API returns it: parsed from its JSON text.
            return JsonNode.Parse(result.ToJsonString())!.AsObject();
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
