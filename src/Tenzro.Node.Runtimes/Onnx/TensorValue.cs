using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// A tensor's values in a flat row-major CLR array (float[] for float32, long[] for int64, string[] for
/// string, ...; see <see cref="TensorTypes.ClrType"/>), with its API type name and shape. Immutable by
/// convention: the array is not changed after construction.
/// </summary>
internal sealed record TensorValue(string Type, long[] Shape, Array Data)
{
    /// <summary>Elements in one slice along the first dimension.</summary>
    public long RowSize => Shape.Skip(1).Aggregate(1L, (a, b) => a * b);

    /// <summary>Concatenates tensors of one type along the first dimension; all other dimensions must match.</summary>
    public static TensorValue Concat(IReadOnlyList<TensorValue> parts)
    {
        var first = parts[0];
        var rows = parts.Sum(p => p.Shape[0]);
        var data = Array.CreateInstance(TensorTypes.ClrType(first.Type), parts.Sum(p => p.Data.LongLength));
        long offset = 0;
        foreach (var part in parts)
        {
            Array.Copy(part.Data, 0, data, offset, part.Data.LongLength);
            offset += part.Data.LongLength;
        }

        return new TensorValue(first.Type, [rows, .. first.Shape.Skip(1)], data);
    }

    /// <summary><paramref name="rows"/> slices along the first dimension, from <paramref name="startRow"/>.</summary>
    public TensorValue SliceRows(long startRow, long rows)
    {
        var rowSize = RowSize;
        var data = Array.CreateInstance(Data.GetType().GetElementType()!, rows * rowSize);
        Array.Copy(Data, startRow * rowSize, data, 0, rows * rowSize);
        return new TensorValue(Type, [rows, .. Shape.Skip(1)], data);
    }

    /// <summary>An ONNX Runtime value over this tensor; numeric data is pinned, not copied. Dispose it after the run.</summary>
    public OrtValue ToOrtValue() => Type switch
    {
        // Switch on the type name, not the array: the runtime lets a byte[] pass as an sbyte[] and back.
        TensorTypes.Float32 => OrtValue.CreateTensorValueFromMemory((float[])Data, Shape),
        TensorTypes.Float64 => OrtValue.CreateTensorValueFromMemory((double[])Data, Shape),
        TensorTypes.Float16 => OrtValue.CreateTensorValueFromMemory((Float16[])Data, Shape),
        TensorTypes.Int8 => OrtValue.CreateTensorValueFromMemory((sbyte[])Data, Shape),
        TensorTypes.UInt8 => UInt8Tensor((byte[])Data, Shape),
        TensorTypes.Int32 => OrtValue.CreateTensorValueFromMemory((int[])Data, Shape),
        TensorTypes.Int64 => OrtValue.CreateTensorValueFromMemory((long[])Data, Shape),
        TensorTypes.Bool => OrtValue.CreateTensorValueFromMemory((bool[])Data, Shape),
        TensorTypes.String => StringTensor((string[])Data, Shape),
        _ => throw new InvalidOperationException($"no ONNX Runtime tensor for {Type}"),
    };

    /// <summary>Copies an output of a run.</summary>
    /// <exception cref="TaskExecutionException">The output is not a tensor of a type the API carries.</exception>
    public static TensorValue FromOrtValue(string name, OrtValue value)
    {
        if (value.OnnxType != OnnxValueType.ONNX_TYPE_TENSOR)
        {
            throw new TaskExecutionException($"output '{name}' is a {TensorTypes.NameOf(value.OnnxType)}; only tensor outputs can be returned");
        }

        var info = value.GetTensorTypeAndShape();
        var type = TensorTypes.NameOf(info.ElementDataType);
        Array data = info.ElementDataType switch
        {
            TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
            TensorElementType.Double => value.GetTensorDataAsSpan<double>().ToArray(),
            TensorElementType.Float16 => value.GetTensorDataAsSpan<Float16>().ToArray(),
            TensorElementType.Int8 => value.GetTensorDataAsSpan<sbyte>().ToArray(),
            TensorElementType.UInt8 => value.GetTensorDataAsSpan<byte>().ToArray(),
            TensorElementType.Int32 => value.GetTensorDataAsSpan<int>().ToArray(),
            TensorElementType.Int64 => value.GetTensorDataAsSpan<long>().ToArray(),
            TensorElementType.Bool => value.GetTensorDataAsSpan<bool>().ToArray(),
            TensorElementType.String => value.GetStringTensorAsArray(),
            _ => throw new TaskExecutionException(
                $"output '{name}' has element type {type}, which results cannot carry; the API carries {string.Join(", ", TensorTypes.All)}"),
        };
        return new TensorValue(type, info.Shape, data);
    }

    /// <summary>Decodes little-endian element bytes (the base64 form) into the array for <paramref name="type"/>.</summary>
    public static Array FromLittleEndian(string type, byte[] bytes) => type switch
    {
        TensorTypes.Float32 => Cast<float>(bytes),
        TensorTypes.Float64 => Cast<double>(bytes),
        TensorTypes.Float16 => Cast<ushort>(bytes).Select(u => new Float16(u)).ToArray(),
        TensorTypes.Int8 => Cast<sbyte>(bytes),
        TensorTypes.UInt8 => bytes,
        TensorTypes.Int32 => Cast<int>(bytes),
        TensorTypes.Int64 => Cast<long>(bytes),
        TensorTypes.Bool => bytes.Select(b => b != 0).ToArray(),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "has no byte form"),
    };

    private static T[] Cast<T>(byte[] bytes)
        where T : unmanaged
    {
        // ONNX Runtime's packages run on little-endian machines only, so the wire order is the memory order.
        return MemoryMarshal.Cast<byte, T>(bytes).ToArray();
    }

    private static OrtValue UInt8Tensor(byte[] values, long[] shape)
    {
        // CreateTensorValueFromMemory labels a byte[] as int8; allocate a uint8 tensor and copy instead.
        var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.UInt8, shape);
        values.CopyTo(value.GetTensorMutableDataAsSpan<byte>());
        return value;
    }

    private static OrtValue StringTensor(string[] values, long[] shape)
    {
        var value = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
        for (var i = 0; i < values.Length; i++)
        {
            value.StringTensorSetElementAt(values[i].AsSpan(), i);
        }

        return value;
    }
}
