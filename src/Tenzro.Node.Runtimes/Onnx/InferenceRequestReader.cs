using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>A checked inference request: the model and one or more input sets.</summary>
/// <param name="IsBatch">True for <c>data.batch</c> (the result is an array of output maps).</param>
internal sealed record InferenceRequest(ModelInfo Model, IReadOnlyList<IReadOnlyDictionary<string, TensorValue>> Sets, bool IsBatch);

/// <summary>Reads <c>data.inputs</c> or <c>data.batch</c> against a model's declared inputs.</summary>
internal static class InferenceRequestReader
{
    /// <summary>The most input sets one task may carry in <c>data.batch</c>.</summary>
    public const int MaxBatchSets = 1024;

    /// <summary>
    /// The input sets of <paramref name="data"/> for <paramref name="model"/>, adding one error per bad field; with no
    /// model (it was not found), only checks that inputs are given and returns null.
    /// </summary>
    public static InferenceRequest? Read(JsonObject data, ModelInfo? model, ValidationErrors errors)
    {
        var inputs = data["inputs"];
        var batch = data["batch"];
        if (inputs is not null && batch is not null)
        {
            errors.Add("data", "give either data.inputs (one input set) or data.batch (several), not both.");
            return null;
        }

        if (inputs is null && batch is null)
        {
            errors.Add("data.inputs", "is required: an object of input name → tensor, e.g. {\"x\":{\"type\":\"float32\",\"shape\":[1,4],\"data\":[1,2,3,4]}}.");
            return null;
        }

        if (model is null)
        {
            return null;
        }

        List<IReadOnlyDictionary<string, TensorValue>> sets = [];
        if (inputs is not null)
        {
            if (inputs is not JsonObject set)
            {
                errors.AddTypeError("data.inputs", "must be an object of input name → tensor.");
                return null;
            }

            sets.Add(ParseSet(set, "data.inputs", model, errors));
        }
        else
        {
            if (batch is not JsonArray array)
            {
                errors.AddTypeError("data.batch", "must be an array of input sets (objects of input name → tensor).");
                return null;
            }

            if (array.Count is 0 or > MaxBatchSets)
            {
                errors.Add("data.batch", $"must hold 1 to {MaxBatchSets} input sets; it holds {array.Count}.");
                return null;
            }

            for (var i = 0; i < array.Count; i++)
            {
                if (array[i] is not JsonObject set)
                {
                    errors.AddTypeError($"data.batch[{i}]", "must be an object of input name → tensor.");
                    continue;
                }

                sets.Add(ParseSet(set, $"data.batch[{i}]", model, errors));
            }
        }

        return errors.IsEmpty ? new InferenceRequest(model, sets, IsBatch: batch is not null) : null;
    }

    private static Dictionary<string, TensorValue> ParseSet(JsonObject set, string prefix, ModelInfo model, ValidationErrors errors)
    {
        var parsed = new Dictionary<string, TensorValue>(StringComparer.Ordinal);
        foreach (var (name, node) in set)
        {
            var declared = model.Input(name);
            if (declared is null)
            {
                errors.Add($"{prefix}.{name}", $"the model has no input '{name}'; its inputs are {Describe(model.Inputs)}.");
                continue;
            }

            if (TensorJson.Parse(node, $"{prefix}.{name}", declared, errors) is { } tensor)
            {
                parsed[name] = tensor;
            }
        }

        foreach (var declared in model.Inputs.Where(i => !set.ContainsKey(i.Name)))
        {
            errors.Add($"{prefix}.{declared.Name}", $"is required: the model takes {declared.Name} {declared.Type} {declared.ShapeText}.");
        }

        return parsed;
    }

    private static string Describe(IReadOnlyList<ModelTensorInfo> tensors) =>
        string.Join(", ", tensors.Select(t => $"{t.Name} {t.Type} {t.ShapeText}"));

}
