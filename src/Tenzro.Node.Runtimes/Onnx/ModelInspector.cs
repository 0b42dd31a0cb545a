using Microsoft.ML.OnnxRuntime;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// Reads a model's declared inputs and outputs by loading it into ONNX Runtime (with graph optimizations
/// off and one thread), which is also the proof that the bytes are a model this node can run.
/// </summary>
/// <remarks>Thread-safe and stateless.</remarks>
internal static class ModelInspector
{
    /// <summary>The inputs and outputs of the model in <paramref name="model"/>.</summary>
    /// <exception cref="InvalidModelException">ONNX Runtime cannot load the bytes, or a tensor's data is in an external file.</exception>
    public static (IReadOnlyList<ModelTensorInfo> Inputs, IReadOnlyList<ModelTensorInfo> Outputs) Inspect(byte[] model)
    {
        if (model.Length == 0)
        {
            throw new InvalidModelException("the body is empty; send the bytes of an .onnx file");
        }

        if (OnnxModelScan.ExternalDataReason(model) is { } external)
        {
            throw new InvalidModelException($"not an ONNX model this node can load: {external}");
        }

        try
        {
            using var options = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL,
                IntraOpNumThreads = 1,
                InterOpNumThreads = 1,
                LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
            };
            using var session = new InferenceSession(model, options);
            return (Describe(session.InputNames, session.InputMetadata), Describe(session.OutputNames, session.OutputMetadata));
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidModelException($"not an ONNX model this node can load: {OnnxModelScan.WithoutPaths(e.Message).TrimEnd('.', ' ')}", e);
        }
    }

    public static IReadOnlyList<ModelTensorInfo> Describe(IReadOnlyList<string> names, IReadOnlyDictionary<string, NodeMetadata> metadata) =>
        [.. names.Select(name => Describe(name, metadata[name]))];

    private static ModelTensorInfo Describe(string name, NodeMetadata metadata)
    {
        if (!metadata.IsTensor)
        {
            return new ModelTensorInfo(name, TensorTypes.NameOf(metadata.OnnxValueType), [], []);
        }

        var dimensions = metadata.Dimensions;
        var symbolic = metadata.SymbolicDimensions;
        var shape = dimensions.Select(d => d < 0 ? -1L : d).ToArray();
        var names = Enumerable.Range(0, dimensions.Length)
            .Select(i => dimensions[i] < 0 && i < symbolic.Length ? symbolic[i] ?? string.Empty : string.Empty)
            .ToArray();
        return new ModelTensorInfo(name, TensorTypes.NameOf(metadata.ElementDataType), shape, names);
    }
}
