using System.Text.RegularExpressions;
using Google.Protobuf;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// Checks a model's bytes before ONNX Runtime sees them, and keeps the paths of this machine out of its errors.
/// </summary>
/// <remarks>Thread-safe and stateless.</remarks>
internal static partial class OnnxModelScan
{
    // Field numbers of onnx.proto, for the messages that can hold a tensor (directly or in a subgraph or function).
    private const int ModelGraph = 7, ModelFunctions = 25;
    private const int GraphNode = 1, GraphInitializer = 5, GraphSparseInitializer = 15;
    private const int NodeAttribute = 5;
    private const int AttributeTensor = 5, AttributeGraph = 6, AttributeTensors = 10, AttributeGraphs = 11, AttributeSparseTensor = 22, AttributeSparseTensors = 23;
    private const int FunctionNode = 7, FunctionAttributeProto = 11;
    private const int SparseValues = 1, SparseIndices = 2;
    private const int TensorName = 8, TensorExternalData = 13, TensorDataLocation = 14;
    private const int DataLocationExternal = 1;
    private const int MaxDepth = 64;

    private enum Kind
    {
        Model,
        Graph,
        Node,
        Attribute,
        Function,
        Sparse,
        Tensor,
    }

    /// <summary>
    /// Why the model cannot be accepted without loading it: a tensor whose data is in an external file
    /// (<c>data_location: EXTERNAL</c>), which ONNX Runtime would read from this machine's disk. Null when none.
    /// </summary>
    public static string? ExternalDataReason(byte[] model)
    {
        try
        {
            var tensor = Scan(new CodedInputStream(model), Kind.Model, 0);
            return tensor is null
                ? null
                : $"tensor '{tensor}' keeps its data in an external file (data_location EXTERNAL); this node accepts only models whose tensors are all inside the .onnx file (save it with save_as_external_data=False)";
        }
        catch (TooDeepException)
        {
            return $"its graphs, functions and attributes are nested more than {MaxDepth} deep, too deep to check for external data";
        }
        catch (InvalidProtocolBufferException)
        {
            // Not a protobuf message this scan can follow: ONNX Runtime will say what is wrong with it.
            return null;
        }
    }

    /// <summary>An ONNX Runtime message with every absolute path replaced by <c>&lt;path&gt;</c>.</summary>
    public static string WithoutPaths(string message) => AbsolutePath().Replace(message, "<path>");

    /// <summary>Returns the name of the first tensor with external data in the message of <paramref name="kind"/>, or null.</summary>
    private static string? Scan(CodedInputStream input, Kind kind, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new TooDeepException();
        }

        string? tensorName = null;
        var external = false;
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var field = WireFormat.GetTagFieldNumber(tag);
            var wireType = WireFormat.GetTagWireType(tag);
            if (kind == Kind.Tensor && field == TensorDataLocation && wireType == WireFormat.WireType.Varint)
            {
                external |= input.ReadInt32() == DataLocationExternal;
                continue;
            }

            if (kind == Kind.Tensor && field == TensorExternalData && wireType == WireFormat.WireType.LengthDelimited)
            {
                external = true;
                input.SkipLastField();
                continue;
            }

            if (kind == Kind.Tensor && field == TensorName && wireType == WireFormat.WireType.LengthDelimited)
            {
                tensorName = input.ReadString();
                continue;
            }

            if (wireType == WireFormat.WireType.LengthDelimited && Child(kind, field) is { } child)
            {
                var bytes = input.ReadBytes();
                if (Scan(new CodedInputStream(bytes.ToByteArray()), child, depth + 1) is { } found)
                {
                    return found;
                }

                continue;
            }

            input.SkipLastField();
        }

        return external ? tensorName ?? string.Empty : null;
    }

    private static Kind? Child(Kind kind, int field) => (kind, field) switch
    {
        (Kind.Model, ModelGraph) => Kind.Graph,
        (Kind.Model, ModelFunctions) => Kind.Function,
        (Kind.Graph, GraphNode) => Kind.Node,
        (Kind.Graph, GraphInitializer) => Kind.Tensor,
        (Kind.Graph, GraphSparseInitializer) => Kind.Sparse,
        (Kind.Node, NodeAttribute) => Kind.Attribute,
        (Kind.Attribute, AttributeTensor or AttributeTensors) => Kind.Tensor,
        (Kind.Attribute, AttributeGraph or AttributeGraphs) => Kind.Graph,
        (Kind.Attribute, AttributeSparseTensor or AttributeSparseTensors) => Kind.Sparse,
        (Kind.Function, FunctionNode) => Kind.Node,
        (Kind.Function, FunctionAttributeProto) => Kind.Attribute,
        (Kind.Sparse, SparseValues or SparseIndices) => Kind.Tensor,
        _ => null,
    };

    private sealed class TooDeepException : Exception;

    // An absolute path: a '/' at the start or after a space, quote, bracket or '=', up to the next space or quote.
    [GeneratedRegex("""(?<=^|[\s"'(\[=])/[^\s"')\]]*""")]
    private static partial Regex AbsolutePath();
}
