using System.Text.Json.Nodes;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>A model's description as the node sends it to the ONNX Runtime worker, with the dimension names batching needs.</summary>
internal static class ModelInfoJson
{
    public static JsonObject Write(ModelInfo model) => new()
    {
        ["sha256"] = model.Sha256,
        ["size"] = model.Size,
        ["inputs"] = new JsonArray([.. model.Inputs.Select(i => (JsonNode)i.ToJson(withDimensionNames: true))]),
        ["outputs"] = new JsonArray([.. model.Outputs.Select(o => (JsonNode)o.ToJson(withDimensionNames: true))]),
    };

    public static ModelInfo Read(JsonObject json) => new(
        json["sha256"]!.GetValue<string>(),
        json["size"]!.GetValue<long>(),
        [.. json["inputs"]!.AsArray().Select(i => ModelTensorInfo.FromJson(i!.AsObject()))],
        [.. json["outputs"]!.AsArray().Select(o => ModelTensorInfo.FromJson(o!.AsObject()))],
        ModelInfo.Uploaded,
        DateTimeOffset.UnixEpoch);
}
