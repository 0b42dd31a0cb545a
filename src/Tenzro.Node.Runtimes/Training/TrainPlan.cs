using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Runtimes.Training;

/// <summary>
/// A <c>train</c> task checked against its data: labels that fit the model, the network's layer sizes,
/// and the starting parameters (from <c>data.initialParameters</c>) in the model's own form.
/// </summary>
internal sealed class TrainPlan
{
    private TrainPlan(TrainRequest request, TrainingData data)
    {
        Request = request;
        Data = data;
    }

    public TrainRequest Request { get; }

    public TrainingData Data { get; }

    public TrainModel Model => Request.Model;

    public Hyperparameters Hyperparameters => Request.Hyperparameters;

    /// <summary>Linear and logistic: the starting weights (one per feature) and bias; null to start from zeros.</summary>
    public (double[] Weights, double Bias)? LinearStart { get; private set; }

    /// <summary>MLP: the layer sizes and output.</summary>
    public MlpArchitecture? Architecture { get; private set; }

    /// <summary>MLP: the starting network; null to initialize from the seed.</summary>
    public MlpNetwork? MlpStart { get; private set; }

    /// <summary>
    /// Checks <paramref name="data"/> against <paramref name="request"/>; null when an error was added.
    /// </summary>
    /// <param name="request">The parsed task.</param>
    /// <param name="data">Its data, inline or from the blob.</param>
    /// <param name="dataField">How the data is named in errors: <c>data</c> or <c>dataBlob</c>.</param>
    /// <param name="errors">Receives one error per bad field.</param>
    public static TrainPlan? Create(TrainRequest request, TrainingData data, string dataField, ValidationErrors errors)
    {
        var plan = new TrainPlan(request, data);
        var valid = request.Model == TrainModel.Mlp
            ? plan.PrepareMlp(dataField, errors)
            : plan.PrepareLinear(dataField, errors);
        return valid ? plan : null;
    }

    private bool PrepareLinear(string dataField, ValidationErrors errors)
    {
        // ML.NET trains in float32; a value beyond its range would make the row "bad" and be skipped.
        var valid = CheckFloatRange(Data.Features, Data.Columns, $"{dataField}.features", errors);
        if (Model == TrainModel.Linear)
        {
            valid &= CheckFloatRange(Data.Labels, 0, $"{dataField}.labels", errors);
        }
        else
        {
            var reported = 0;
            for (var i = 0; i < Data.Rows && reported < TrainingLimits.MaxReportedErrors; i++)
            {
                if (Data.Labels[i] is not (0 or 1))
                {
                    errors.Add($"{dataField}.labels[{i}]", $"is {TrainRequestReader.Format(Data.Labels[i])}; logistic regression needs labels 0 or 1.");
                    reported++;
                }
            }

            valid &= reported == 0;
        }

        if (Request.Initial is not { } initial)
        {
            return valid;
        }

        foreach (var name in initial.Values.Keys.Where(n => n is not ("weights" or "bias")))
        {
            errors.Add($"{initial.Field}.{name}", $"is not a parameter of a {TrainRequestReader.Models[(int)Model]} model; it has weights and bias.");
            valid = false;
        }

        var weights = Expect(initial, "weights", Data.Columns, $"one per feature ({Data.Columns})", errors);
        var bias = Expect(initial, "bias", 1, "one number", errors);
        if (weights is null || bias is null)
        {
            return false;
        }

        valid &= CheckFloatRange(weights, 0, $"{initial.Field}.weights", errors) && CheckFloatRange(bias, 0, $"{initial.Field}.bias", errors);
        LinearStart = (weights, bias[0]);
        return valid;
    }

    private bool PrepareMlp(string dataField, ValidationErrors errors)
    {
        var hyperparameters = Hyperparameters;
        var outputs = 1;
        var output = MlpOutput.Identity;
        if (Request.Task == MlpTask.Classification)
        {
            var reported = 0;
            var largest = 0d;
            for (var i = 0; i < Data.Rows && reported < TrainingLimits.MaxReportedErrors; i++)
            {
                var label = Data.Labels[i];
                var limit = hyperparameters.Classes ?? TrainingLimits.MaxLayerSize;
                if (label != Math.Floor(label) || label < 0 || label >= limit)
                {
                    var range = hyperparameters.Classes is { } k
                        ? $"with hyperparameters.classes {k} the classes are 0 to {k - 1}"
                        : $"classification labels are class numbers 0 to {TrainingLimits.MaxLayerSize - 1}";
                    errors.Add($"{dataField}.labels[{i}]", $"is {TrainRequestReader.Format(label)}; {range}.");
                    reported++;
                }

                largest = Math.Max(largest, label);
            }

            if (reported > 0)
            {
                return false;
            }

            var classes = hyperparameters.Classes ?? Math.Max(2, (int)largest + 1);
            outputs = classes == 2 ? 1 : classes;
            output = classes == 2 ? MlpOutput.Sigmoid : MlpOutput.Softmax;
        }

        int[] sizes = [Data.Columns, .. hyperparameters.HiddenUnits, outputs];
        var architecture = new MlpArchitecture(sizes, output);
        if (architecture.ParameterCount > TrainingLimits.MaxParameters)
        {
            errors.Add(
                "data.hyperparameters.hiddenUnits",
                $"the network {architecture.Describe()} has {architecture.ParameterCount:N0} parameters; the limit is {TrainingLimits.MaxParameters:N0} (fewer features or narrower layers).");
            return false;
        }

        Architecture = architecture;
        if (Request.Initial is not { } initial)
        {
            return true;
        }

        var valid = true;
        var layers = architecture.Layers;
        var names = Enumerable.Range(0, layers).SelectMany(l => new[] { $"w{l}", $"b{l}" }).ToHashSet(StringComparer.Ordinal);
        foreach (var name in initial.Values.Keys.Where(n => !names.Contains(n)))
        {
            errors.Add($"{initial.Field}.{name}", $"is not a parameter of the network {architecture.Describe()}; it has {string.Join(", ", names)}.");
            valid = false;
        }

        var weights = new double[layers][];
        var biases = new double[layers][];
        for (var l = 0; l < layers; l++)
        {
            weights[l] = Expect(initial, $"w{l}", sizes[l] * sizes[l + 1], $"{sizes[l]}×{sizes[l + 1]} for the network {architecture.Describe()}", errors)!;
            biases[l] = Expect(initial, $"b{l}", sizes[l + 1], $"{sizes[l + 1]} for the network {architecture.Describe()}", errors)!;
            valid &= weights[l] is not null && biases[l] is not null;
        }

        foreach (var (name, shape) in initial.Shapes ?? new Dictionary<string, int[]>())
        {
            var expected = architecture.ShapeOf(name);
            if (expected is null)
            {
                errors.Add($"{initial.Field}.shapes.{name}", $"is not a parameter of the network {architecture.Describe()}.");
                valid = false;
            }
            else if (!expected.AsSpan().SequenceEqual(shape))
            {
                errors.Add(
                    $"{initial.Field}.shapes.{name}",
                    $"is [{string.Join(",", shape)}], where the network {architecture.Describe()} (data.hyperparameters.hiddenUnits, the features, the outputs) has [{string.Join(",", expected)}].");
                valid = false;
            }
        }

        if (valid)
        {
            MlpStart = new MlpNetwork(architecture, weights, biases);
        }

        return valid;
    }

    private static double[]? Expect(InitialParameters initial, string name, int length, string description, ValidationErrors errors)
    {
        if (!initial.Values.TryGetValue(name, out var values))
        {
            errors.Add($"{initial.Field}.{name}", $"is required: {length} number(s), {description}.");
            return null;
        }

        if (values.Length != length)
        {
            errors.Add($"{initial.Field}.{name}", $"has {values.Length} values, expected {length} ({description}).");
            return null;
        }

        return values;
    }

    private static bool CheckFloatRange(double[] values, int columns, string field, ValidationErrors errors)
    {
        var reported = 0;
        for (var i = 0; i < values.Length && reported < TrainingLimits.MaxReportedErrors; i++)
        {
            if (Math.Abs(values[i]) > float.MaxValue)
            {
                var name = columns > 0 ? $"{field}[{i / columns}][{i % columns}]" : $"{field}[{i}]";
                errors.Add(name, $"is {TrainRequestReader.Format(values[i])}, beyond float32, the precision ML.NET trains in.");
                reported++;
            }
        }

        return reported == 0;
    }
}
