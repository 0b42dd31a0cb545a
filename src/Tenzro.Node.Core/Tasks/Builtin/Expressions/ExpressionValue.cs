using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Core.Tasks.Builtin.Expressions;

/// <summary>What an expression value is: JSON's scalar kinds, or an object or array kept as JSON.</summary>
internal enum ValueKind
{
    Null = 0,
    Boolean = 1,
    Number = 2,
    String = 3,
    Json = 4,
}

/// <summary>
/// A value during evaluation. Numbers are IEEE doubles and are always finite (operations that would
/// give NaN or an infinity fail instead), so every value has exactly one canonical JSON form.
/// </summary>
internal readonly struct ExpressionValue : IEquatable<ExpressionValue>
{
    private readonly double _number;
    private readonly bool _boolean;
    private readonly string? _string;
    private readonly JsonNode? _json;

    private ExpressionValue(ValueKind kind, double number = 0, bool boolean = false, string? text = null, JsonNode? json = null)
    {
        Kind = kind;
        _number = number;
        _boolean = boolean;
        _string = text;
        _json = json;
    }

    public static ExpressionValue Null => default;

    public ValueKind Kind { get; }

    public double Number => _number;

    public bool Boolean => _boolean;

    public string String => _string ?? string.Empty;

    /// <summary>The object or array of a <see cref="ValueKind.Json"/> value.</summary>
    public JsonNode? Json => _json;

    public static ExpressionValue FromNumber(double value) => new(ValueKind.Number, number: value);

    public static ExpressionValue FromBoolean(bool value) => new(ValueKind.Boolean, boolean: value);

    public static ExpressionValue FromString(string value) => new(ValueKind.String, text: value);

    /// <summary>Wraps a JSON node; objects and arrays are referenced, not copied.</summary>
    public static ExpressionValue FromJson(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return Null;
            case JsonObject or JsonArray:
                return new ExpressionValue(ValueKind.Json, json: node);
        }

        var value = node.AsValue();
        return value.GetValueKind() switch
        {
            JsonValueKind.Number => FromNumber(NumberOf(value)),
            JsonValueKind.String => FromString(value.GetValue<string>()),
            JsonValueKind.True => FromBoolean(true),
            JsonValueKind.False => FromBoolean(false),
            _ => Null,
        };
    }

    /// <summary>The double of a JSON number node, whatever CLR type backs it.</summary>
    public static double NumberOf(JsonValue value)
    {
        if (value.TryGetValue<double>(out var number))
        {
            return number;
        }

        return double.Parse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    /// <summary>A JSON node for this value. Objects and arrays without a parent are reused; others are copied.</summary>
    public JsonNode? ToJsonNode() => Kind switch
    {
        ValueKind.Null => null,
        ValueKind.Boolean => JsonValue.Create(_boolean),
        ValueKind.Number => JsonValue.Create(_number),
        ValueKind.String => JsonValue.Create(_string),
        _ => _json!.Parent is null ? _json : _json.DeepClone(),
    };

    /// <summary>The RFC 8785 form of this value: identity for equality, distinct and grouping.</summary>
    public string ToCanonicalString() => Kind switch
    {
        ValueKind.Null => "null",
        ValueKind.Boolean => _boolean ? "true" : "false",
        ValueKind.Number => CanonicalJson.FormatNumber(_number),
        _ => System.Text.Encoding.UTF8.GetString(CanonicalJson.Serialize(Kind == ValueKind.String ? JsonValue.Create(_string) : _json)),
    };

    /// <summary>Name of the kind as a user reads it in an error message.</summary>
    public string KindName => Kind switch
    {
        ValueKind.Null => "null",
        ValueKind.Boolean => "a boolean",
        ValueKind.Number => "a number",
        ValueKind.String => "a string",
        _ => _json is JsonArray ? "an array" : "an object",
    };

    /// <summary>
    /// Equality without coercion: numbers by value, strings by UTF-16 code units, objects and arrays by
    /// their canonical JSON; values of different kinds are never equal.
    /// </summary>
    public bool Equals(ExpressionValue other) => Kind == other.Kind && Kind switch
    {
        ValueKind.Null => true,
        ValueKind.Boolean => _boolean == other._boolean,
        ValueKind.Number => _number == other._number,
        ValueKind.String => string.Equals(_string, other._string, StringComparison.Ordinal),
        _ => string.Equals(ToCanonicalString(), other.ToCanonicalString(), StringComparison.Ordinal),
    };

    public override bool Equals(object? obj) => obj is ExpressionValue other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Kind, ToCanonicalString());

    public static bool operator ==(ExpressionValue left, ExpressionValue right) => left.Equals(right);

    public static bool operator !=(ExpressionValue left, ExpressionValue right) => !left.Equals(right);
}
