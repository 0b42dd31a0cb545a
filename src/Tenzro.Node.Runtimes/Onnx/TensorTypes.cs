using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// The tensor element types of the API (CONTRACTS.md "Tensors") and how each maps to ONNX Runtime and
/// to the CLR array that holds its values.
/// </summary>
internal static class TensorTypes
{
    public const string Float32 = "float32";
    public const string Float64 = "float64";
    public const string Float16 = "float16";
    public const string Int8 = "int8";
    public const string UInt8 = "uint8";
    public const string Int32 = "int32";
    public const string Int64 = "int64";
    public const string Bool = "bool";
    public const string String = "string";

    /// <summary>Every type name the API accepts, in the order the docs list them.</summary>
    public static IReadOnlyList<string> All { get; } = [Float32, Float64, Float16, Int8, UInt8, Int32, Int64, Bool, String];

    public static bool IsKnown(string name) => All.Contains(name, StringComparer.Ordinal);

    /// <summary>The API name of an ONNX element type; the ONNX name in lower case for types the API does not carry.</summary>
    public static string NameOf(TensorElementType type) => type switch
    {
        TensorElementType.Float => Float32,
        TensorElementType.Double => Float64,
        TensorElementType.Float16 => Float16,
        TensorElementType.Int8 => Int8,
        TensorElementType.UInt8 => UInt8,
        TensorElementType.Int32 => Int32,
        TensorElementType.Int64 => Int64,
        TensorElementType.Bool => Bool,
        TensorElementType.String => String,
        _ => type.ToString().ToLowerInvariant(),
    };

    /// <summary>The CLR element type of the array that holds values of <paramref name="name"/>.</summary>
    public static Type ClrType(string name) => name switch
    {
        Float32 => typeof(float),
        Float64 => typeof(double),
        Float16 => typeof(Microsoft.ML.OnnxRuntime.Float16),
        Int8 => typeof(sbyte),
        UInt8 => typeof(byte),
        Int32 => typeof(int),
        Int64 => typeof(long),
        Bool => typeof(bool),
        String => typeof(string),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "not a tensor type"),
    };

    /// <summary>Bytes per element in the little-endian base64 form; 0 for string, which has none.</summary>
    public static int ByteSize(string name) => name switch
    {
        Float64 or Int64 => 8,
        Float32 or Int32 => 4,
        Float16 => 2,
        Int8 or UInt8 or Bool => 1,
        _ => 0,
    };

    /// <summary>How a non-tensor graph value is named in model metadata.</summary>
    public static string NameOf(OnnxValueType kind) => kind switch
    {
        OnnxValueType.ONNX_TYPE_SEQUENCE => "sequence",
        OnnxValueType.ONNX_TYPE_MAP => "map",
        OnnxValueType.ONNX_TYPE_OPTIONAL => "optional",
        OnnxValueType.ONNX_TYPE_SPARSETENSOR => "sparse_tensor",
        _ => "opaque",
    };
}
