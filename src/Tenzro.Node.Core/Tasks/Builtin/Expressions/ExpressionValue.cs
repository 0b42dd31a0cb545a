using System.Globalization;
using System.Text;
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
/// A JSON value during evaluation and between pipeline stages. Numbers are IEEE doubles and always finite
/// (operations that would give NaN or an infinity fail instead); objects and arrays are read-only
/// <see cref="JsonElement"/>s, read in place without copying.
/// </summary>
/// <remarks>Immutable; safe to share between threads.</remarks>
internal readonly struct ExpressionValue : IEquatable<ExpressionValue>
{
    private readonly double _number;
    private readonly bool _boolean;
    private readonly string? _string;
    private readonly JsonElement _json;

    private ExpressionValue(ValueKind kind, double number = 0, bool boolean = false, string? text = null, JsonElement json = default)
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
    public JsonElement Json => _json;

    public static ExpressionValue FromNumber(double value) => new(ValueKind.Number, number: value);

    public static ExpressionValue FromBoolean(bool value) => new(ValueKind.Boolean, boolean: value);

    public static ExpressionValue FromString(string value) => new(ValueKind.String, text: value);

    /// <summary>Wraps a JSON element; objects and arrays are referenced, not copied.</summary>
    /// <exception cref="FormatException">A number too large for a double.</exception>
    public static ExpressionValue FromElement(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Number => element.TryGetDouble(out var number) && double.IsFinite(number)
            ? FromNumber(number)
            : throw new FormatException($"the number {element.GetRawText()} is too large for a double"),
        JsonValueKind.String => FromString(element.GetString()!),
        JsonValueKind.True => FromBoolean(true),
        JsonValueKind.False => FromBoolean(false),
        JsonValueKind.Object or JsonValueKind.Array => new ExpressionValue(ValueKind.Json, json: element),
        _ => Null,
    };

    /// <summary>Copies a JSON node into a value (a convenience for callers that hold nodes).</summary>
    public static ExpressionValue FromJson(JsonNode? node) =>
        node is null ? Null : FromElement(JsonSerializer.SerializeToElement(node));

    /// <summary>A new JSON node for this value; objects and arrays wrap the element without copying it.</summary>
    public JsonNode? ToJsonNode() => Kind switch
    {
        ValueKind.Null => null,
        ValueKind.Boolean => JsonValue.Create(_boolean),
        ValueKind.Number => JsonValue.Create(_number),
        ValueKind.String => JsonValue.Create(_string),
        _ => _json.ValueKind == JsonValueKind.Array ? JsonArray.Create(_json) : JsonObject.Create(_json),
    };

    /// <summary>The RFC 8785 (canonical JSON) text of this value.</summary>
    /// <exception cref="FormatException">A number inside an object or array is too large for a double.</exception>
    public string ToCanonicalString() => Kind switch
    {
        ValueKind.Null => "null",
        ValueKind.Boolean => _boolean ? "true" : "false",
        ValueKind.Number => CanonicalJson.FormatNumber(_number),
        ValueKind.String => CanonicalJson.ToCanonicalString(JsonSerializer.SerializeToElement(_string)),
        _ => CanonicalJson.ToCanonicalString(_json),
    };

    /// <summary>UTF-8 bytes of <see cref="ToCanonicalString"/>.</summary>
    public byte[] ToCanonicalBytes() => Encoding.UTF8.GetBytes(ToCanonicalString());

    /// <summary>
    /// A string that is equal for two values exactly when they are <see cref="Equals(ExpressionValue)"/>, cheaper
    /// than the canonical text for strings. For set membership only; never shown.
    /// </summary>
    public string IdentityKey() => Kind == ValueKind.String ? "s" + _string : "j" + ToCanonicalString();

    /// <summary>Name of the kind as a user reads it in an error message.</summary>
    public string KindName => Kind switch
    {
        ValueKind.Null => "null",
        ValueKind.Boolean => "a boolean",
        ValueKind.Number => "a number",
        ValueKind.String => "a string",
        _ => _json.ValueKind == JsonValueKind.Array ? "an array" : "an object",
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

    public override int GetHashCode() => IdentityKey().GetHashCode(StringComparison.Ordinal);

    public override string ToString() => ToCanonicalString();

    public static bool operator ==(ExpressionValue left, ExpressionValue right) => left.Equals(right);

    public static bool operator !=(ExpressionValue left, ExpressionValue right) => !left.Equals(right);
}
