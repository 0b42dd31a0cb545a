using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// The JSON form of a tensor (CONTRACTS.md "Tensors"): <c>{"type":"float32","shape":[1,4],"data":[…]}</c>.
/// <c>data</c> is a flat (or nested) array of values, or a base64 string of the little-endian element
/// bytes for numeric and bool types. Floats NaN and ±infinity are the strings "NaN", "Infinity",
/// "-Infinity"; an int64 beyond ±2^53 is written as a string and may be given as one.
/// </summary>
internal static class TensorJson
{
    /// <summary>The largest integer a JSON number carries exactly (2^53).</summary>
    public const long MaxExactInteger = 1L << 53;

    /// <summary>
    /// Reads the tensor given for <paramref name="declared"/> and checks it against the declaration:
    /// type, rank, fixed dimensions, and a data length equal to the product of the shape. Adds one error
    /// under <paramref name="field"/> and returns null when anything is wrong.
    /// </summary>
    public static TensorValue? Parse(JsonNode? node, string field, ModelTensorInfo declared, ValidationErrors errors)
    {
        if (node is not JsonObject tensor)
        {
            errors.AddTypeError(field, $"must be a tensor object like {{\"type\":\"{declared.Type}\",\"shape\":{declared.ShapeText},\"data\":[…]}}.");
            return null;
        }

        if (!declared.IsTensor)
        {
            errors.Add(field, $"the model's input is a {declared.Type}; only tensor inputs can be given.");
            return null;
        }

        var type = declared.Type;
        if (tensor["type"] is { } typeNode)
        {
            if (typeNode.GetValueKind() != JsonValueKind.String)
            {
                errors.AddTypeError(field, "type must be a string such as \"float32\".");
                return null;
            }

            type = typeNode.GetValue<string>();
            if (!TensorTypes.IsKnown(type))
            {
                errors.Add(field, $"type '{type}' is not a tensor type; use one of {string.Join(", ", TensorTypes.All)} (the model expects {declared.Type}).");
                return null;
            }

            if (type != declared.Type)
            {
                errors.Add(field, $"type {type} given, model expects {declared.Type}.");
                return null;
            }
        }

        var shape = ParseShape(tensor["shape"], field, declared, errors);
        if (shape is null)
        {
            return null;
        }

        long count;
        try
        {
            count = shape.Aggregate(1L, (a, b) => checked(a * b));
        }
        catch (OverflowException)
        {
            errors.Add(field, $"shape [{string.Join(',', shape)}] has too many elements.");
            return null;
        }

        var data = ParseData(tensor["data"], field, type, shape, count, errors);
        return data is null ? null : new TensorValue(type, shape, data);
    }

    /// <summary>The JSON form of <paramref name="tensor"/>.</summary>
    public static JsonObject ToJson(TensorValue tensor)
    {
        var data = new JsonArray();

        // Switch on the type name, not the array: the runtime lets a byte[] pass as an sbyte[] and back.
        switch (tensor.Type)
        {
            case TensorTypes.Float32:
                foreach (var v in (float[])tensor.Data)
                {
                    data.Add(Float(v));
                }

                break;
            case TensorTypes.Float64:
                foreach (var v in (double[])tensor.Data)
                {
                    data.Add(Double(v));
                }

                break;
            case TensorTypes.Float16:
                foreach (var v in (Float16[])tensor.Data)
                {
                    data.Add(Float((float)v));
                }

                break;
            case TensorTypes.Int8:
                foreach (var v in (sbyte[])tensor.Data)
                {
                    data.Add(JsonValue.Create(v));
                }

                break;
            case TensorTypes.UInt8:
                foreach (var v in (byte[])tensor.Data)
                {
                    data.Add(JsonValue.Create(v));
                }

                break;
            case TensorTypes.Int32:
                foreach (var v in (int[])tensor.Data)
                {
                    data.Add(JsonValue.Create(v));
                }

                break;
            case TensorTypes.Int64:
                foreach (var v in (long[])tensor.Data)
                {
                    data.Add(v is > MaxExactInteger or < -MaxExactInteger ? JsonValue.Create(v.ToString(CultureInfo.InvariantCulture)) : JsonValue.Create(v));
                }

                break;
            case TensorTypes.Bool:
                foreach (var v in (bool[])tensor.Data)
                {
                    data.Add(JsonValue.Create(v));
                }

                break;
            case TensorTypes.String:
                foreach (var v in (string[])tensor.Data)
                {
                    data.Add(JsonValue.Create(v));
                }

                break;
            default:
                throw new InvalidOperationException($"no JSON form for {tensor.Type}");
        }

        return new JsonObject
        {
            ["type"] = tensor.Type,
            ["shape"] = new JsonArray([.. tensor.Shape.Select(d => (JsonNode)d)]),
            ["data"] = data,
        };
    }

    private static JsonNode Float(float value) =>
        float.IsFinite(value) ? JsonValue.Create(value) : JsonValue.Create(NonFinite(value));

    private static JsonNode Double(double value) =>
        double.IsFinite(value) ? JsonValue.Create(value) : JsonValue.Create(NonFinite(value));

    private static string NonFinite(double value) => double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";

    private static long[]? ParseShape(JsonNode? node, string field, ModelTensorInfo declared, ValidationErrors errors)
    {
        if (node is null)
        {
            if (declared.Shape.Any(d => d < 0))
            {
                errors.Add(field, $"shape is required: the model's shape {declared.ShapeText} has dynamic dimensions.");
                return null;
            }

            return [.. declared.Shape];
        }

        if (node is not JsonArray array)
        {
            errors.AddTypeError(field, "shape must be an array of non-negative integers.");
            return null;
        }

        var shape = new long[array.Count];
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !TryInteger(v, JsonValueKind.Number, out var dim) || dim < 0)
            {
                errors.Add(field, $"shape must be an array of non-negative integers; element {i} is {array[i]?.ToJsonString() ?? "null"}.");
                return null;
            }

            shape[i] = dim;
        }

        var given = $"[{string.Join(',', shape)}]";
        if (shape.Length != declared.Shape.Count)
        {
            errors.Add(field, $"shape {given} given, model expects {declared.ShapeText} (rank {declared.Shape.Count}).");
            return null;
        }

        for (var i = 0; i < shape.Length; i++)
        {
            if (declared.Shape[i] >= 0 && shape[i] != declared.Shape[i])
            {
                errors.Add(field, $"shape {given} given, model expects {declared.ShapeText}: dimension {i} must be {declared.Shape[i]}.");
                return null;
            }
        }

        return shape;
    }

    private static Array? ParseData(JsonNode? node, string field, string type, long[] shape, long count, ValidationErrors errors)
    {
        var shapeText = $"[{string.Join(',', shape)}]";
        switch (node)
        {
            case null:
                errors.Add(field, $"data is required: {count} {type} value(s) for shape {shapeText}.");
                return null;
            case JsonValue text when text.GetValueKind() == JsonValueKind.String:
                var size = TensorTypes.ByteSize(type);
                if (size == 0)
                {
                    errors.Add(field, "data of a string tensor must be an array of strings.");
                    return null;
                }

                byte[] bytes;
                try
                {
                    bytes = Convert.FromBase64String(text.GetValue<string>());
                }
                catch (FormatException)
                {
                    errors.Add(field, "data is a string but not valid base64 (a string holds the little-endian bytes of the values).");
                    return null;
                }

                if (bytes.LongLength != count * size)
                {
                    errors.Add(field, $"data has {bytes.LongLength} bytes ({bytes.LongLength / (double)size} {type} values), shape {shapeText} needs {count} ({count * size} bytes).");
                    return null;
                }

                return TensorValue.FromLittleEndian(type, bytes);
            case JsonArray array:
                var values = new List<JsonNode?>();
                Flatten(array, values);
                if (values.Count != count)
                {
                    errors.Add(field, $"data has {values.Count} values, shape {shapeText} needs {count}.");
                    return null;
                }

                return ConvertValues(values, field, type, errors);
            default:
                errors.AddTypeError(field, "data must be an array of values or a base64 string.");
                return null;
        }
    }

    private static void Flatten(JsonArray array, List<JsonNode?> values)
    {
        foreach (var item in array)
        {
            if (item is JsonArray inner)
            {
                Flatten(inner, values);
            }
            else
            {
                values.Add(item);
            }
        }
    }

    private static Array? ConvertValues(List<JsonNode?> values, string field, string type, ValidationErrors errors)
    {
        var result = Array.CreateInstance(TensorTypes.ClrType(type), values.Count);
        for (var i = 0; i < values.Count; i++)
        {
            if (!TryConvert(values[i], type, out var element))
            {
                errors.Add(field, $"data[{i}] is {values[i]?.ToJsonString() ?? "null"}, not a {type} value.");
                return null;
            }

            result.SetValue(element, i);
        }

        return result;
    }

    private static bool TryConvert(JsonNode? node, string type, out object? element)
    {
        element = null;
        if (node is not JsonValue value)
        {
            return false;
        }

        var kind = value.GetValueKind();
        switch (type)
        {
            case TensorTypes.String:
                element = kind == JsonValueKind.String ? value.GetValue<string>() : null;
                return element is not null;
            case TensorTypes.Bool:
                if (kind is JsonValueKind.True or JsonValueKind.False)
                {
                    element = kind == JsonValueKind.True;
                    return true;
                }

                if (TryInteger(value, kind, out var flag) && flag is 0 or 1)
                {
                    element = flag == 1;
                    return true;
                }

                return false;
            case TensorTypes.Float32 or TensorTypes.Float64 or TensorTypes.Float16:
                if (!TryReal(value, kind, out var real))
                {
                    return false;
                }

                var max = type switch { TensorTypes.Float32 => float.MaxValue, TensorTypes.Float16 => 65504.0, _ => double.MaxValue };
                if (double.IsFinite(real) && Math.Abs(real) > max)
                {
                    return false;
                }

                element = type switch
                {
                    TensorTypes.Float32 => (object)(float)real,
                    TensorTypes.Float16 => (Float16)(float)real,
                    _ => real,
                };
                return true;
            default:
                if (!TryInteger(value, kind, out var integer))
                {
                    return false;
                }

                (long min, long maxInteger) = type switch
                {
                    TensorTypes.Int8 => (sbyte.MinValue, sbyte.MaxValue),
                    TensorTypes.UInt8 => (byte.MinValue, byte.MaxValue),
                    TensorTypes.Int32 => (int.MinValue, int.MaxValue),
                    _ => (long.MinValue, long.MaxValue),
                };
                if (integer < min || integer > maxInteger)
                {
                    return false;
                }

                // Boxed as the array's own element type: Array.SetValue does not narrow.
                element = type switch
                {
                    TensorTypes.Int8 => (object)(sbyte)integer,
                    TensorTypes.UInt8 => (byte)integer,
                    TensorTypes.Int32 => (int)integer,
                    _ => integer,
                };
                return true;
        }
    }

    private static bool TryReal(JsonValue value, JsonValueKind kind, out double real)
    {
        real = 0;
        if (kind == JsonValueKind.Number)
        {
            return TryNumber(value, out real);
        }

        if (kind != JsonValueKind.String)
        {
            return false;
        }

        switch (value.GetValue<string>())
        {
            case "NaN":
                real = double.NaN;
                return true;
            case "Infinity":
                real = double.PositiveInfinity;
                return true;
            case "-Infinity":
                real = double.NegativeInfinity;
                return true;
            default:
                return false;
        }
    }

    private static bool TryInteger(JsonValue value, JsonValueKind kind, out long integer)
    {
        integer = 0;
        if (kind == JsonValueKind.String)
        {
            return long.TryParse(value.GetValue<string>(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out integer);
        }

        if (kind != JsonValueKind.Number)
        {
            return false;
        }

        if (value.TryGetValue(out integer))
        {
            return true;
        }

        if (value.TryGetValue<int>(out var small))
        {
            integer = small;
            return true;
        }

        // 1e3 and 4.0 are integers written another way.
        if (TryNumber(value, out var real) && real == Math.Floor(real) && Math.Abs(real) <= MaxExactInteger)
        {
            integer = (long)real;
            return true;
        }

        return false;
    }

    /// <summary>
    /// A number node's value as a double: parsed JSON holds a JsonElement, but a node built in code holds
    /// the CLR value it was made from, which TryGetValue converts only to its own type.
    /// </summary>
    private static bool TryNumber(JsonValue value, out double real)
    {
        if (value.TryGetValue(out real))
        {
            return true;
        }

        if (value.TryGetValue<float>(out var single))
        {
            real = single;
            return true;
        }

        if (value.TryGetValue<long>(out var integer))
        {
            real = integer;
            return true;
        }

        if (value.TryGetValue<int>(out var small))
        {
            real = small;
            return true;
        }

        if (value.TryGetValue<decimal>(out var exact))
        {
            real = (double)exact;
            return true;
        }

        return false;
    }
}
