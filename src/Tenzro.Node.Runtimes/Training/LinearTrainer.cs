using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Runtimes.Training;

/// <summary>
/// Linear regression (squared loss) with ML.NET's <see cref="OnlineGradientDescentTrainer"/>, and logistic
/// regression (log loss) with <see cref="AveragedPerceptronTrainer"/> given <see cref="LogLoss"/>: both
/// are stochastic gradient descent over the rows, single-threaded, with a constant learning rate and
/// without averaging, so the result is the last iterate.
/// </summary>
/// <remarks>
/// An epoch is one call to the trainer with <c>NumberOfIterations = 1</c>, continuing from the previous
/// epoch's parameters (the first from <c>initialParameters</c>, or zeros): one shuffled pass, one update per
/// row. After each epoch the mean loss over all rows is computed here, in double precision, from the
/// model's float32 parameters. Shuffles come from the <see cref="MLContext"/> seed. Stateless and
/// thread-safe; each call has its own context.
/// </remarks>
internal static class LinearTrainer
{
    public static TrainingOutcome Train(TrainPlan plan, IProgress<double> progress, CancellationToken cancellationToken)
    {
        var data = plan.Data;
        var hyperparameters = plan.Hyperparameters;
        var logistic = plan.Model == TrainModel.Logistic;
        var context = new MLContext(seed: hyperparameters.Seed);
        var view = logistic ? Load<BinaryRow>(context, data, y => new BinaryRow { Label = y == 1 }) : Load<RegressionRow>(context, data, y => new RegressionRow { Label = (float)y });
        var trainer = logistic ? BinaryTrainer(context, hyperparameters) : RegressionTrainer(context, hyperparameters);

        LinearModelParameters? model = null;
        if (plan.LinearStart is var (startWeights, startBias))
        {
            model = StartingModel(context, logistic, [.. startWeights.Select(w => (float)w)], (float)startBias);
        }

        var weights = new float[data.Columns];
        var bias = 0f;
        var history = new List<double>(hyperparameters.Epochs);
        for (var epoch = 1; epoch <= hyperparameters.Epochs; epoch++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                model = trainer(view, model);
                weights = [.. model.Weights];
                bias = model.Bias;
            }
            catch (InvalidOperationException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TrainingDivergedException(epoch, $"ML.NET: {e.Message}");
            }

            var loss = MeanLoss(data, weights, bias, logistic);
            if (!double.IsFinite(loss))
            {
                throw new TrainingDivergedException(epoch, $"the loss is {TrainRequestReader.Format(loss)}");
            }

            history.Add(loss);
            progress.Report(epoch / (double)hyperparameters.Epochs);
        }

        var parameters = new JsonObject
        {
            ["weights"] = new JsonArray([.. weights.Select(w => (JsonNode)(double)w)]),
            ["bias"] = new JsonArray((double)bias),
        };
        return logistic
            ? new TrainingOutcome(parameters, history, "accuracy", Accuracy(data, weights, bias))
            : new TrainingOutcome(parameters, history, "rmse", Math.Sqrt(history[^1]));
    }

    /// <summary>Mean squared error, or mean log loss (natural log) of the sigmoid of the margin.</summary>
    public static double MeanLoss(TrainingData data, float[] weights, float bias, bool logistic)
    {
        var total = 0d;
        for (var i = 0; i < data.Rows; i++)
        {
            var margin = Margin(data.Row(i), weights, bias);
            var label = data.Labels[i];
            total += logistic
                ? Math.Max(margin, 0) - (margin * label) + Math.Log(1 + Math.Exp(-Math.Abs(margin)))
                : (margin - label) * (margin - label);
        }

        return total / data.Rows;
    }

    private static double Accuracy(TrainingData data, float[] weights, float bias)
    {
        var correct = 0;
        for (var i = 0; i < data.Rows; i++)
        {
            correct += (Margin(data.Row(i), weights, bias) >= 0 ? 1 : 0) == data.Labels[i] ? 1 : 0;
        }

        return correct / (double)data.Rows;
    }

    private static double Margin(ReadOnlySpan<double> row, float[] weights, float bias)
    {
        double margin = bias;
        for (var j = 0; j < row.Length; j++)
        {
            margin += weights[j] * row[j];
        }

        return margin;
    }

    private static Func<IDataView, LinearModelParameters?, LinearModelParameters> RegressionTrainer(MLContext context, Hyperparameters hyperparameters)
    {
        var trainer = context.Regression.Trainers.OnlineGradientDescent(new OnlineGradientDescentTrainer.Options
        {
            NumberOfIterations = 1,
            LearningRate = (float)hyperparameters.LearningRate,
            DecreaseLearningRate = false,
            L2Regularization = (float)hyperparameters.L2,
            Averaged = false,
            Shuffle = true,
        });
        return (view, start) => (start is null ? trainer.Fit(view) : trainer.Fit(view, start)).Model;
    }

    private static Func<IDataView, LinearModelParameters?, LinearModelParameters> BinaryTrainer(MLContext context, Hyperparameters hyperparameters)
    {
        var trainer = context.BinaryClassification.Trainers.AveragedPerceptron(new AveragedPerceptronTrainer.Options
        {
            LossFunction = new LogLoss(),
            NumberOfIterations = 1,
            LearningRate = (float)hyperparameters.LearningRate,
            DecreaseLearningRate = false,
            L2Regularization = (float)hyperparameters.L2,
            Averaged = false,
            Shuffle = true,
        });
        return (view, start) => (start is null ? trainer.Fit(view) : trainer.Fit(view, start)).Model;
    }

    /// <summary>
    /// ML.NET model parameters holding <paramref name="weights"/> and <paramref name="bias"/>, for the first
    /// epoch to continue from. ML.NET 5 builds these only inside its trainers (the constructor taking
    /// weights and bias is not public), so it is called by reflection; the package version is pinned in
    /// Directory.Packages.props and the federated-round test covers this path.
    /// </summary>
    private static LinearModelParameters StartingModel(MLContext context, bool logistic, float[] weights, float bias)
    {
        var type = logistic ? typeof(LinearBinaryModelParameters) : typeof(LinearRegressionModelParameters);
        var constructor = type.GetConstructors(BindingFlags.Instance | BindingFlags.NonPublic)
            .FirstOrDefault(c => c.GetParameters() is { Length: >= 3 } p
                && p[0].ParameterType == typeof(IHostEnvironment)
                && p[1].ParameterType == typeof(VBuffer<float>).MakeByRefType()
                && p[2].ParameterType == typeof(float)
                && p.Skip(3).All(extra => extra.ParameterType.IsClass))
            ?? throw new TaskExecutionException($"this build's ML.NET has no {type.Name}(environment, weights, bias) constructor, so data.initialParameters cannot be used for {(logistic ? "logistic" : "linear")} models");
        object?[] arguments = [context, new VBuffer<float>(weights.Length, weights), bias, .. new object?[constructor.GetParameters().Length - 3]];
        return (LinearModelParameters)constructor.Invoke(arguments);
    }

    private static IDataView Load<TRow>(MLContext context, TrainingData data, Func<double, TRow> row)
        where TRow : class, IFeatureRow
    {
        var rows = new List<TRow>(data.Rows);
        for (var i = 0; i < data.Rows; i++)
        {
            var item = row(data.Labels[i]);
            item.Features = [.. data.Row(i).ToArray().Select(x => (float)x)];
            rows.Add(item);
        }

        var schema = SchemaDefinition.Create(typeof(TRow));
        schema[nameof(IFeatureRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, data.Columns);
        return context.Data.Cache(context.Data.LoadFromEnumerable(rows, schema));
    }

    private interface IFeatureRow
    {
        float[] Features { get; set; }
    }

    private sealed class RegressionRow : IFeatureRow
    {
        public float Label { get; set; }

        public float[] Features { get; set; } = [];
    }

    private sealed class BinaryRow : IFeatureRow
    {
        public bool Label { get; set; }

        public float[] Features { get; set; } = [];
    }
}
