using System.Text.Json.Nodes;

namespace Tenzro.Node.Runtimes.Training;

/// <summary>
/// Trains an <see cref="MlpNetwork"/> by mini-batch gradient descent. An epoch is one pass over the rows in
/// an order shuffled from the seed (in row order when one batch holds them all), one step per batch of
/// <c>batchSize</c> rows; the loss after each epoch is the mean loss over all rows.
/// </summary>
/// <remarks>Stateless and thread-safe; each call works on its own network.</remarks>
internal static class MlpTrainer
{
    /// <summary>Rows per forward pass when the loss over all rows is measured.</summary>
    private const int EvaluationChunk = 256;

    public static TrainingOutcome Train(TrainPlan plan, IProgress<double> progress, CancellationToken cancellationToken)
    {
        var architecture = plan.Architecture ?? throw new InvalidOperationException("an MLP plan has an architecture");
        var data = plan.Data;
        var hyperparameters = plan.Hyperparameters;
        var random = new DeterministicRandom((ulong)hyperparameters.Seed);
        var network = plan.MlpStart ?? MlpNetwork.Initialize(architecture, random);
        var batchSize = Math.Min(hyperparameters.BatchSize, data.Rows);
        var workspace = new MlpWorkspace(architecture, Math.Max(batchSize, Math.Min(EvaluationChunk, data.Rows)));
        var gradient = network.ZerosLike();
        var order = Enumerable.Range(0, data.Rows).ToArray();
        var history = new List<double>(hyperparameters.Epochs);
        for (var epoch = 1; epoch <= hyperparameters.Epochs; epoch++)
        {
            if (batchSize < data.Rows)
            {
                random.Shuffle(order);
            }

            for (var start = 0; start < data.Rows; start += batchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var rows = order.AsSpan(start, Math.Min(batchSize, data.Rows - start));
                network.Objective(data, rows, hyperparameters.L2, gradient, workspace);
                network.Step(gradient, hyperparameters.LearningRate);
            }

            var loss = network.MeanLoss(data, workspace);
            if (!double.IsFinite(loss) || !network.IsFinite())
            {
                throw new TrainingDivergedException(epoch, $"the loss is {TrainRequestReader.Format(loss)}");
            }

            history.Add(loss);
            progress.Report(epoch / (double)hyperparameters.Epochs);
        }

        var metricName = architecture.Output == MlpOutput.Identity ? "rmse" : "accuracy";
        return new TrainingOutcome(ParametersJson(network), history, metricName, network.Metric(data, workspace));
    }

    /// <summary><c>{"w0":[…],"b0":[…],…,"shapes":{"w0":[in,out],"b0":[out],…}}</c>.</summary>
    public static JsonObject ParametersJson(MlpNetwork network)
    {
        var parameters = new JsonObject();
        var shapes = new JsonObject();
        var sizes = network.Architecture.Sizes;
        for (var l = 0; l < network.Architecture.Layers; l++)
        {
            parameters[$"w{l}"] = new JsonArray([.. network.Weights[l].Select(w => (JsonNode)w)]);
            parameters[$"b{l}"] = new JsonArray([.. network.Biases[l].Select(b => (JsonNode)b)]);
            shapes[$"w{l}"] = new JsonArray(sizes[l], sizes[l + 1]);
            shapes[$"b{l}"] = new JsonArray(sizes[l + 1]);
        }

        parameters["shapes"] = shapes;
        return parameters;
    }
}
