using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wasmtime;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>
/// Converts JSON arguments to WebAssembly values by the function's signature, and results back to JSON
/// (CONTRACTS.md): an i64 beyond ±2^53 becomes a string, NaN and the infinities the strings
/// <c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c>. Integers are returned signed.
/// </summary>
internal static class WasmValues
{
    /// <summary>The largest integer a JSON number (an IEEE double) holds exactly.</summary>
    private const long MaxSafeInteger = 1L << 53;

    public static bool IsSupported(ValueKind kind) => kind is ValueKind.Int32 or ValueKind.Int64 or ValueKind.Float32 or ValueKind.Float64;

    public static string Name(ValueKind kind) => kind switch
    {
        ValueKind.Int32 => "i32",
        ValueKind.Int64 => "i64",
        ValueKind.Float32 => "f32",
        ValueKind.Float64 => "f64",
        ValueKind.V128 => "v128",
        ValueKind.FuncRef => "funcref",
        ValueKind.ExternRef => "externref",
        ValueKind.AnyRef => "anyref",
        _ => kind.ToString(),
    };

    /// <summary>True for text that <see cref="TryToWasm"/> can read as a number.</summary>
    public static bool IsNumericText(string text) =>
        IsSpecialFloat(text) || double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    /// <summary>Reads a whole number exactly (no rounding through double), in decimal or exponent notation.</summary>
    public static bool TryParseInteger(string text, out decimal value) =>
        decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && value == decimal.Truncate(value);

    /// <summary>
    /// Converts one argument to the parameter's type. i32 accepts -2^31..2^32-1 and i64 -2^63..2^64-1
    /// (values above the signed range wrap, as the bits are the same).
    /// </summary>
    public static bool TryToWasm(JsonNode? node, ValueKind kind, out ValueBox value, out string problem)
    {
        value = default;
        problem = string.Empty;
        var text = node?.GetValueKind() switch
        {
            JsonValueKind.String => node.GetValue<string>(),
            JsonValueKind.Number => node.ToJsonString(),
            _ => null,
        };
        if (text is null)
        {
            problem = "is not a number";
            return false;
        }

        switch (kind)
        {
            case ValueKind.Int32:
                if (!TryParseInteger(text, out var i32) || i32 < int.MinValue || i32 > uint.MaxValue)
                {
                    problem = $"{text} is not a whole number in the i32 range (-2147483648 to 4294967295)";
                    return false;
                }

                value = i32 < 0 ? (int)i32 : unchecked((int)(uint)i32);
                return true;
            case ValueKind.Int64:
                if (!TryParseInteger(text, out var i64) || i64 < long.MinValue || i64 > ulong.MaxValue)
                {
                    problem = $"{text} is not a whole number in the i64 range (-9223372036854775808 to 18446744073709551615)";
                    return false;
                }

                value = i64 < 0 ? (long)i64 : unchecked((long)(ulong)i64);
                return true;
            case ValueKind.Float32:
            case ValueKind.Float64:
                if (!TryParseFloat(text, out var number))
                {
                    problem = $"{text} is not a number";
                    return false;
                }

                value = kind == ValueKind.Float32 ? (ValueBox)(float)number : (ValueBox)number;
                return true;
            default:
                problem = $"{Name(kind)} parameters are not supported";
                return false;
        }
    }

    /// <summary>Converts a value returned by <see cref="Function.Invoke(ValueBox[])"/> to JSON.</summary>
    public static JsonNode ToJson(object? value) => value switch
    {
        int i => JsonValue.Create(i),
        long l => l is >= -MaxSafeInteger and <= MaxSafeInteger ? JsonValue.Create(l) : JsonValue.Create(l.ToString(CultureInfo.InvariantCulture)),

        // An f32 is written with its own shortest digits (0.1f gives 0.1, not 0.10000000149011612).
        float f => float.IsFinite(f) ? JsonValue.Create(double.Parse(f.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)) : JsonValue.Create(SpecialFloat(f)),
        double d => double.IsFinite(d) ? JsonValue.Create(d) : JsonValue.Create(SpecialFloat(d)),
        _ => throw new WasmTaskException(WasmFailure.BadArguments, $"the function returned a {value?.GetType().Name ?? "null"} value, which has no JSON form"),
    };

    private static bool TryParseFloat(string text, out double value)
    {
        switch (text)
        {
            case "NaN":
                value = double.NaN;
                return true;
            case "Infinity":
                value = double.PositiveInfinity;
                return true;
            case "-Infinity":
                value = double.NegativeInfinity;
                return true;
            default:
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
    }

    private static bool IsSpecialFloat(string text) => text is "NaN" or "Infinity" or "-Infinity";

    private static string SpecialFloat(double value) => double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
}
