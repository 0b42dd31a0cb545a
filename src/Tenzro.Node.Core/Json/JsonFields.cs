using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Core.Json;

/// <summary>
/// Reads the members of one JSON object for a parser that reports every bad field at once: a member of the
/// wrong JSON kind adds a type error (400) named by its path (<c>config.fuel</c>) and reads as absent; the value
/// checks that follow are the parser's own. The one way the node reads a JSON number is <see cref="NumberOf"/>.
/// </summary>
/// <param name="members">The object read.</param>
/// <param name="path">The object's path, prefixed to every member's name ("" for the top level).</param>
/// <param name="errors">Receives the type errors.</param>
public readonly struct JsonFields(JsonObject members, string path, ValidationErrors errors)
{
    public const string StringExpected = "must be a string.";
    public const string NumberExpected = "must be a number.";
    public const string BooleanExpected = "must be true or false.";
    public const string ObjectExpected = "must be an object.";

    /// <summary>A member's path as its errors name it.</summary>
    public string PathOf(string name) => path.Length == 0 ? name : $"{path}.{name}";

    /// <summary>The member, or null when it is absent.</summary>
    public JsonNode? this[string name] => members[name];

    /// <summary>The string member; null when absent or not a string (then a type error was added).</summary>
    public string? OptionalString(string name, string typeMessage = StringExpected) =>
        Typed(name, JsonValueKind.String, typeMessage) is { } node ? node.GetValue<string>() : null;

    /// <summary>The string member; when absent, <paramref name="missingMessage"/> is added (a value error) and null returned.</summary>
    public string? RequiredString(string name, string missingMessage, string typeMessage = StringExpected)
    {
        if (members[name] is null)
        {
            errors.Add(PathOf(name), missingMessage);
            return null;
        }

        return OptionalString(name, typeMessage);
    }

    /// <summary>The number member as a double; null when absent or not a number (then a type error was added).</summary>
    public double? OptionalDouble(string name, string typeMessage = NumberExpected) =>
        Typed(name, JsonValueKind.Number, typeMessage) is { } node ? NumberOf(node) : null;

    /// <summary>The number member as its JSON text (for whole numbers beyond a double's exact range); null when absent or not a number.</summary>
    public string? OptionalNumberText(string name, string typeMessage = NumberExpected) =>
        Typed(name, JsonValueKind.Number, typeMessage)?.ToJsonString();

    /// <summary>The boolean member; null when absent or not true or false (then a type error was added).</summary>
    public bool? OptionalBool(string name, string typeMessage = BooleanExpected)
    {
        if (members[name] is not { } node)
        {
            return null;
        }

        var kind = node.GetValueKind();
        if (kind is not (JsonValueKind.True or JsonValueKind.False))
        {
            errors.AddTypeError(PathOf(name), typeMessage);
            return null;
        }

        return kind == JsonValueKind.True;
    }

    /// <summary>The object member; null when absent or not an object (then a type error was added).</summary>
    public JsonObject? OptionalObject(string name, string typeMessage = ObjectExpected) =>
        Typed(name, JsonValueKind.Object, typeMessage)?.AsObject();

    /// <summary>The array member; null when absent or not an array (then a type error was added).</summary>
    public JsonArray? OptionalArray(string name, string typeMessage) =>
        Typed(name, JsonValueKind.Array, typeMessage)?.AsArray();

    /// <summary>
    /// A JSON number as a double, whether parsed from text or built in memory from another numeric type (a
    /// <c>JsonValue</c> of long, which <c>GetValue&lt;double&gt;</c> refuses). A number beyond the range of a
    /// double reads as an infinity.
    /// </summary>
    public static double NumberOf(JsonNode node) =>
        node.AsValue().TryGetValue<double>(out var value)
            ? value
            : double.Parse(node.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);

    private JsonNode? Typed(string name, JsonValueKind kind, string typeMessage)
    {
        if (members[name] is not { } node)
        {
            return null;
        }

        if (node.GetValueKind() != kind)
        {
            errors.AddTypeError(PathOf(name), typeMessage);
            return null;
        }

        return node;
    }
}
