using System.Text.Json.Nodes;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// One declared input or output of a model: its API type name (a tensor type of <see cref="TensorTypes"/>,
/// or sequence/map/optional for values the node cannot feed), and its shape with -1 for a dynamic dimension.
/// </summary>
/// <param name="Name">The graph name.</param>
/// <param name="Type">The element type name.</param>
/// <param name="Shape">Dimensions; -1 where the model leaves the size open.</param>
/// <param name="DimensionNames">The symbolic name of each dimension ("" where it has none), used to decide whether sets can be batched.</param>
internal sealed record ModelTensorInfo(string Name, string Type, IReadOnlyList<long> Shape, IReadOnlyList<string> DimensionNames)
{
    public bool IsTensor => TensorTypes.IsKnown(Type);

    /// <summary>The shape as the API writes it, e.g. <c>[-1,4]</c>.</summary>
    public string ShapeText => $"[{string.Join(',', Shape)}]";

    /// <summary>The public form <c>{"name","type","shape"}</c>; <paramref name="withDimensionNames"/> adds the names, for the store.</summary>
    public JsonObject ToJson(bool withDimensionNames = false)
    {
        var json = new JsonObject
        {
            ["name"] = Name,
            ["type"] = Type,
            ["shape"] = new JsonArray([.. Shape.Select(d => (JsonNode)d)]),
        };
        if (withDimensionNames)
        {
            json["dimensionNames"] = new JsonArray([.. DimensionNames.Select(d => (JsonNode)d)]);
        }

        return json;
    }

    public static ModelTensorInfo FromJson(JsonObject json)
    {
        var shape = json["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
        var names = json["dimensionNames"] is JsonArray n ? n.Select(d => d!.GetValue<string>()).ToArray() : [.. shape.Select(_ => string.Empty)];
        return new ModelTensorInfo(json["name"]!.GetValue<string>(), json["type"]!.GetValue<string>(), shape, names);
    }
}

/// <summary>A stored model: its blob hash and size and what it takes and gives.</summary>
/// <param name="Sha256">Lowercase hex SHA-256 of the model bytes; the blob name and the model's id.</param>
/// <param name="Size">Bytes of the model file.</param>
/// <param name="Inputs">Graph inputs, in graph order.</param>
/// <param name="Outputs">Graph outputs, in graph order.</param>
/// <param name="Source"><c>upload</c> for PUT /api/models; <c>store</c> for bytes first stored by a store task.</param>
/// <param name="CreatedAt">When the model was first recorded.</param>
internal sealed record ModelInfo(
    string Sha256,
    long Size,
    IReadOnlyList<ModelTensorInfo> Inputs,
    IReadOnlyList<ModelTensorInfo> Outputs,
    string Source,
    DateTimeOffset CreatedAt)
{
    public const string Uploaded = "upload";
    public const string FromStoreTask = "store";

    public ModelTensorInfo? Input(string name) => Inputs.FirstOrDefault(i => i.Name == name);

    public JsonObject ToJson() => new()
    {
        ["sha256"] = Sha256,
        ["size"] = Size,
        ["inputs"] = new JsonArray([.. Inputs.Select(i => (JsonNode)i.ToJson())]),
        ["outputs"] = new JsonArray([.. Outputs.Select(o => (JsonNode)o.ToJson())]),
        ["source"] = Source,
        ["createdAt"] = CreatedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture),
    };
}
