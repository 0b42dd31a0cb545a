using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Runtimes.Training;

/// <summary>
/// Reads and checks the <c>data</c> of a <c>train</c> task: one error per bad field, named by its path
/// (<c>data.features[3]</c>). Wrong JSON types are type errors (400), bad values plain errors (422).
/// </summary>
/// <remarks>Stateless and thread-safe.</remarks>
internal static class TrainRequestReader
{
    public static readonly string[] Models = ["linear", "logistic", "mlp"];
    public static readonly string[] Tasks = ["regression", "classification"];

    /// <summary>Reads <paramref name="data"/>; null when an error was added.</summary>
    /// <param name="data">The task's <c>data</c>.</param>
    /// <param name="blobs">Where <c>data.dataBlob</c> must exist.</param>
    /// <param name="errors">Receives one error per bad field.</param>
    public static TrainRequest? Read(JsonObject data, BlobStore blobs, ValidationErrors errors) => Read(data, blobs.SizeOf, errors);

    /// <summary>Reads <paramref name="data"/> with <paramref name="blobSize"/> giving the size of a stored blob (null when none); null when an error was added.</summary>
    public static TrainRequest? Read(JsonObject data, Func<string, long?> blobSize, ValidationErrors errors)
    {
        var valid = true;
        var fields = new JsonFields(data, "data", errors);
        var model = TrainModel.Linear;
        var modelName = fields.RequiredString("model", $"is required: one of {string.Join(", ", Models)}.", $"must be a string: one of {string.Join(", ", Models)}.");
        if (modelName is null)
        {
            valid = false;
        }
        else if (Array.IndexOf(Models, modelName) is var index && index < 0)
        {
            errors.Add("data.model", $"'{modelName}' is not a model; expected one of {string.Join(", ", Models)}.");
            valid = false;
        }
        else
        {
            model = (TrainModel)index;
        }

        var task = model switch
        {
            TrainModel.Logistic => MlpTask.Classification,
            TrainModel.Mlp => ReadTask(fields, errors, ref valid),
            _ => MlpTask.Regression,
        };

        TrainingData? trainingData = null;
        string? dataBlob = null;
        var hasInline = data["features"] is not null || data["labels"] is not null;
        if (data["dataBlob"] is { } blobNode)
        {
            if (hasInline)
            {
                errors.Add("data.dataBlob", "give either data.features and data.labels, or data.dataBlob, not both.");
                valid = false;
            }
            else
            {
                dataBlob = ReadBlob(blobNode, blobSize, errors);
                valid &= dataBlob is not null;
            }
        }
        else
        {
            trainingData = ReadData(data["features"], data["labels"], "data.features", "data.labels", errors);
            valid &= trainingData is not null;
        }

        var hyperparameters = ReadHyperparameters(data["hyperparameters"], model, task, errors);
        var initial = ReadInitial(data["initialParameters"], errors);
        valid &= hyperparameters is not null && (initial is not null || data["initialParameters"] is null);
        return valid ? new TrainRequest(model, task, trainingData, dataBlob, initial, hyperparameters!) : null;
    }

    /// <summary>Reads the rows of <paramref name="featuresNode"/> and the labels; null when an error was added.</summary>
    public static TrainingData? ReadData(JsonNode? featuresNode, JsonNode? labelsNode, string featuresField, string labelsField, ValidationErrors errors)
    {
        if (featuresNode is null)
        {
            errors.Add(featuresField, "is required: an array of rows, each an array of numbers, e.g. [[1,2],[3,4]] (or give data.dataBlob).");
            return null;
        }

        if (featuresNode is not JsonArray rows)
        {
            errors.AddTypeError(featuresField, "must be an array of rows, each an array of numbers, e.g. [[1,2],[3,4]].");
            return null;
        }

        if (rows.Count == 0)
        {
            errors.Add(featuresField, "has no rows; give at least one.");
            return null;
        }

        if (rows[0] is not JsonArray first)
        {
            errors.AddTypeError($"{featuresField}[0]", "must be an array of numbers (one row of features).");
            return null;
        }

        var columns = first.Count;
        if (columns == 0)
        {
            errors.Add($"{featuresField}[0]", "has no values; give at least one feature per row.");
            return null;
        }

        var total = (long)rows.Count * (columns + 1);
        if (total > TrainingLimits.MaxValues)
        {
            errors.Add(featuresField, $"holds {rows.Count} rows of {columns} features, {total:N0} values with the labels; the limit is {TrainingLimits.MaxValues:N0}.");
            return null;
        }

        var features = new double[rows.Count * columns];
        var reported = 0;
        for (var i = 0; i < rows.Count && reported < TrainingLimits.MaxReportedErrors; i++)
        {
            var field = $"{featuresField}[{i}]";
            if (rows[i] is not JsonArray row)
            {
                errors.AddTypeError(field, "must be an array of numbers (one row of features).");
                reported++;
                continue;
            }

            if (row.Count != columns)
            {
                errors.Add(field, $"has {row.Count} values, expected {columns}.");
                reported++;
                continue;
            }

            for (var j = 0; j < columns && reported < TrainingLimits.MaxReportedErrors; j++)
            {
                if (!TryReadNumber(row[j], $"{field}[{j}]", errors, out features[(i * columns) + j]))
                {
                    reported++;
                }
            }
        }

        var labels = ReadLabels(labelsNode, labelsField, rows.Count, featuresField, errors, ref reported);
        return reported == 0 && labels is not null ? new TrainingData(features, labels, columns) : null;
    }

    /// <summary>Parses a stored blob of <c>{"features":…,"labels":…}</c>; its errors are named <c>dataBlob.features[3]</c>.</summary>
    public static TrainingData? ReadBlobData(byte[] bytes, ValidationErrors errors)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(bytes);
        }
        catch (JsonException e)
        {
            errors.Add("dataBlob", $"is not JSON: {e.Message}");
            return null;
        }

        if (root is not JsonObject blob)
        {
            errors.Add("dataBlob", "must be a JSON object {\"features\":[[…],…],\"labels\":[…]}.");
            return null;
        }

        return ReadData(blob["features"], blob["labels"], "dataBlob.features", "dataBlob.labels", errors);
    }

    private static double[]? ReadLabels(JsonNode? node, string field, int rows, string featuresField, ValidationErrors errors, ref int reported)
    {
        if (node is null)
        {
            errors.Add(field, $"is required: one number per row of {featuresField}.");
            return null;
        }

        if (node is not JsonArray array)
        {
            errors.AddTypeError(field, $"must be an array of numbers, one per row of {featuresField}.");
            return null;
        }

        if (array.Count != rows)
        {
            errors.Add(field, $"has {array.Count} values for {rows} rows of {featuresField}; give one label per row.");
            return null;
        }

        var labels = new double[rows];
        var bad = 0;
        for (var i = 0; i < rows && bad < TrainingLimits.MaxReportedErrors; i++)
        {
            if (!TryReadNumber(array[i], $"{field}[{i}]", errors, out labels[i]))
            {
                bad++;
            }
        }

        reported += bad;
        return bad == 0 ? labels : null;
    }

    private static bool TryReadNumber(JsonNode? node, string field, ValidationErrors errors, out double number)
    {
        number = 0;
        if (node is not JsonValue value || value.GetValueKind() != JsonValueKind.Number)
        {
            errors.AddTypeError(field, "must be a number.");
            return false;
        }

        number = JsonFields.NumberOf(value);
        if (!double.IsFinite(number))
        {
            errors.Add(field, "is beyond the range of a double.");
            return false;
        }

        return true;
    }

    private static MlpTask ReadTask(JsonFields data, ValidationErrors errors, ref bool valid)
    {
        if (data["task"] is null)
        {
            return MlpTask.Regression;
        }

        if (data.OptionalString("task", "must be a string: regression or classification.") is not { } name)
        {
            valid = false;
            return MlpTask.Regression;
        }

        var index = Array.IndexOf(Tasks, name);
        if (index < 0)
        {
            errors.Add("data.task", $"'{name}' is not a task; expected regression or classification.");
            valid = false;
            return MlpTask.Regression;
        }

        return (MlpTask)index;
    }

    private static string? ReadBlob(JsonNode node, Func<string, long?> blobSize, ValidationErrors errors)
    {
        if (node.GetValueKind() != JsonValueKind.String)
        {
            errors.AddTypeError("data.dataBlob", "must be a string: the sha256 of a stored JSON blob.");
            return null;
        }

        var sha256 = node.GetValue<string>().ToLowerInvariant();
        if (!BlobStore.IsHash(sha256))
        {
            errors.Add("data.dataBlob", $"'{node.GetValue<string>()}' is not a sha256 (64 hex characters).");
            return null;
        }

        var size = blobSize(sha256);
        if (size is null)
        {
            errors.Add("data.dataBlob", $"no blob {sha256} is stored on this node; store {{\"features\":[[…]],\"labels\":[…]}} with a store task first.");
            return null;
        }

        if (size > TrainingLimits.MaxBlobBytes)
        {
            errors.Add("data.dataBlob", $"the blob has {size:N0} bytes; the limit is {TrainingLimits.MaxBlobBytes:N0}.");
            return null;
        }

        return sha256;
    }

    private static Hyperparameters? ReadHyperparameters(JsonNode? node, TrainModel model, MlpTask task, ValidationErrors errors)
    {
        const string Field = "data.hyperparameters";
        var defaults = new Hyperparameters(
            Hyperparameters.DefaultEpochs, Hyperparameters.DefaultLearningRate, 0, 0, Hyperparameters.DefaultBatchSize, Hyperparameters.DefaultHiddenUnits, null);
        if (node is null)
        {
            return defaults;
        }

        if (node is not JsonObject h)
        {
            errors.AddTypeError(Field, "must be an object such as {\"epochs\":100,\"learningRate\":0.1}.");
            return null;
        }

        var valid = true;
        var fields = new JsonFields(h, Field, errors);
        var epochs = ReadInteger(fields, "epochs", 1, TrainingLimits.MaxEpochs, defaults.Epochs, errors, ref valid);
        var learningRateValid = true;
        var learningRate = ReadNumber(fields, "learningRate", defaults.LearningRate, errors, ref learningRateValid);
        if (learningRateValid && !(learningRate > 0 && learningRate <= TrainingLimits.MaxLearningRate))
        {
            errors.Add($"{Field}.learningRate", $"is {Format(learningRate)}; it must be above 0 and at most {TrainingLimits.MaxLearningRate:N0}.");
            learningRateValid = false;
        }

        var l2Valid = true;
        var l2 = ReadNumber(fields, "l2", 0, errors, ref l2Valid);
        if (l2Valid && model is TrainModel.Linear or TrainModel.Logistic && !(l2 >= 0 && l2 < 0.5))
        {
            errors.Add($"{Field}.l2", $"is {Format(l2)}; for {Models[(int)model]} it must be at least 0 and below 0.5 (each update scales the weights by 1 - 2·l2).");
            l2Valid = false;
        }
        else if (l2Valid && !(l2 >= 0 && l2 <= TrainingLimits.MaxLearningRate))
        {
            errors.Add($"{Field}.l2", $"is {Format(l2)}; it must be from 0 to {TrainingLimits.MaxLearningRate:N0}.");
            l2Valid = false;
        }

        valid &= learningRateValid && l2Valid;
        var seed = ReadInteger(fields, "seed", 0, int.MaxValue, 0, errors, ref valid);
        var batchSize = defaults.BatchSize;
        var hiddenUnits = defaults.HiddenUnits;
        int? classes = null;
        if (model == TrainModel.Mlp)
        {
            batchSize = ReadInteger(fields, "batchSize", 1, int.MaxValue, defaults.BatchSize, errors, ref valid);
            hiddenUnits = ReadHiddenUnits(h["hiddenUnits"], $"{Field}.hiddenUnits", errors, ref valid) ?? defaults.HiddenUnits;
            if (task == MlpTask.Classification && h["classes"] is not null)
            {
                classes = ReadInteger(fields, "classes", 2, TrainingLimits.MaxLayerSize, 2, errors, ref valid);
            }
        }

        return valid ? new Hyperparameters(epochs, learningRate, l2, seed, batchSize, hiddenUnits, classes) : null;
    }

    private static int[]? ReadHiddenUnits(JsonNode? node, string field, ValidationErrors errors, ref bool valid)
    {
        if (node is null)
        {
            return null;
        }

        if (node is not JsonArray array)
        {
            errors.AddTypeError(field, "must be an array of layer widths, e.g. [16] or [32,16].");
            valid = false;
            return null;
        }

        if (array.Count > TrainingLimits.MaxHiddenLayers)
        {
            errors.Add(field, $"has {array.Count} layers; the limit is {TrainingLimits.MaxHiddenLayers}.");
            valid = false;
            return null;
        }

        var units = new int[array.Count];
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonValue value || value.GetValueKind() != JsonValueKind.Number)
            {
                errors.AddTypeError($"{field}[{i}]", "must be a whole number.");
                valid = false;
                continue;
            }

            var width = JsonFields.NumberOf(value);
            if (width != Math.Floor(width) || width < 1 || width > TrainingLimits.MaxLayerSize)
            {
                errors.Add($"{field}[{i}]", $"is {Format(width)}; a layer has 1 to {TrainingLimits.MaxLayerSize} units.");
                valid = false;
                continue;
            }

            units[i] = (int)width;
        }

        return units;
    }

    private static InitialParameters? ReadInitial(JsonNode? node, ValidationErrors errors)
    {
        var field = "data.initialParameters";
        if (node is null)
        {
            return null;
        }

        if (node is not JsonObject parameters)
        {
            errors.AddTypeError(field, "must be an object of parameter name → array of numbers, e.g. {\"weights\":[0.5,-1],\"bias\":[0]}.");
            return null;
        }

        // The value of a federated_average aggregate, {"parameters":{…},"sampleCount":N}, is accepted as it is.
        if (parameters["parameters"] is JsonObject inner && parameters.ContainsKey("sampleCount"))
        {
            parameters = inner;
            field += ".parameters";
        }

        var values = new Dictionary<string, double[]>(StringComparer.Ordinal);
        Dictionary<string, int[]>? shapes = null;
        var valid = true;
        long count = 0;
        foreach (var (name, value) in parameters)
        {
            var member = $"{field}.{name}";
            if (name == "shapes")
            {
                shapes = ReadShapes(value, member, errors, ref valid);
                continue;
            }

            switch (value)
            {
                case JsonValue number when number.GetValueKind() == JsonValueKind.Number:
                    valid &= TryReadNumber(number, member, errors, out var single);
                    values[name] = [single];
                    count++;
                    break;
                case JsonArray array:
                    count += array.Count;
                    if (count > TrainingLimits.MaxParameters)
                    {
                        errors.Add(field, $"holds more than {TrainingLimits.MaxParameters:N0} numbers, the most a model may have.");
                        return null;
                    }

                    var numbers = new double[array.Count];
                    var bad = 0;
                    for (var i = 0; i < array.Count && bad < TrainingLimits.MaxReportedErrors; i++)
                    {
                        if (!TryReadNumber(array[i], $"{member}[{i}]", errors, out numbers[i]))
                        {
                            bad++;
                        }
                    }

                    valid &= bad == 0;
                    values[name] = numbers;
                    break;
                default:
                    errors.AddTypeError(member, "must be an array of numbers.");
                    valid = false;
                    break;
            }
        }

        if (valid && values.Count == 0)
        {
            errors.Add(field, "has no parameters; give them as a train result has them, e.g. {\"weights\":[0.5,-1],\"bias\":[0]}.");
            valid = false;
        }

        return valid ? new InitialParameters(values, shapes, field) : null;
    }

    private static Dictionary<string, int[]>? ReadShapes(JsonNode? node, string field, ValidationErrors errors, ref bool valid)
    {
        if (node is not JsonObject shapes)
        {
            errors.AddTypeError(field, "must be an object of parameter name → dimensions, e.g. {\"w0\":[2,16],\"b0\":[16]}.");
            valid = false;
            return null;
        }

        var result = new Dictionary<string, int[]>(StringComparer.Ordinal);
        foreach (var (name, value) in shapes)
        {
            if (value is not JsonArray dimensions || dimensions.Any(d => d is not JsonValue v || v.GetValueKind() != JsonValueKind.Number))
            {
                errors.AddTypeError($"{field}.{name}", "must be an array of whole numbers.");
                valid = false;
                continue;
            }

            var sizes = dimensions.Select(d => JsonFields.NumberOf(d!)).ToArray();
            if (sizes.Any(d => d != Math.Floor(d) || d < 1 || d > TrainingLimits.MaxParameters))
            {
                errors.Add($"{field}.{name}", $"[{string.Join(",", sizes.Select(Format))}] is not a list of dimensions (whole numbers of 1 or more).");
                valid = false;
                continue;
            }

            result[name] = [.. sizes.Select(d => (int)d)];
        }

        return result;
    }

    private static int ReadInteger(JsonFields h, string name, int min, int max, int fallback, ValidationErrors errors, ref bool valid)
    {
        if (h[name] is null)
        {
            return fallback;
        }

        if (h.OptionalDouble(name, "must be a whole number.") is not { } number)
        {
            valid = false;
            return fallback;
        }

        if (number != Math.Floor(number) || number < min || number > max)
        {
            errors.Add(h.PathOf(name), $"is {Format(number)}; it must be a whole number from {min:N0} to {max:N0}.");
            valid = false;
            return fallback;
        }

        return (int)number;
    }

    private static double ReadNumber(JsonFields h, string name, double fallback, ValidationErrors errors, ref bool valid)
    {
        if (h[name] is null)
        {
            return fallback;
        }

        if (!TryReadNumber(h[name], h.PathOf(name), errors, out var number))
        {
            valid = false;
            return fallback;
        }

        return number;
    }

    public static string Format(double number) => number.ToString("R", CultureInfo.InvariantCulture);
}
