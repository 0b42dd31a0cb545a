using System.Text.Json.Nodes;

namespace Tenzro.Node.Runtimes.Training;

/// <summary>What a trainer returns: the parameters as the result carries them, the loss after each epoch, and one metric.</summary>
/// <param name="Parameters">The <c>parameters</c> object of the result.</param>
/// <param name="LossHistory">The mean training loss after each epoch.</param>
/// <param name="MetricName"><c>rmse</c> or <c>accuracy</c>.</param>
/// <param name="Metric">Its value on the training data with the final parameters.</param>
internal sealed record TrainingOutcome(JsonObject Parameters, IReadOnlyList<double> LossHistory, string MetricName, double Metric);

/// <summary>Training produced a number that is not finite; the message says what to change.</summary>
internal sealed class TrainingDivergedException(int epoch, string detail)
    : Tenzro.Node.Core.Tasks.TaskExecutionException($"training diverged at epoch {epoch} ({detail}); lower data.hyperparameters.learningRate or scale the features");
