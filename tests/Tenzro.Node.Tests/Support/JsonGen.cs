using System.Text.Json.Nodes;
using CsCheck;

namespace Tenzro.Node.Tests.Support;

/// <summary>CsCheck generators of JSON values: any Unicode text (no lone surrogates), finite numbers, nesting up to 5 levels.</summary>
public static class JsonGen
{
    /// <summary>Text of any Unicode scalar values, weighted toward ASCII, escapes and astral characters.</summary>
    public static readonly Gen<string> Text = Gen.Frequency(
            (4, Gen.Int[0x20, 0x7e]),
            (1, Gen.Int[0, 0x1f]),
            (2, Gen.Int[0x80, 0xd7ff]),
            (1, Gen.Int[0xe000, 0xffff]),
            (1, Gen.Int[0x10000, 0x10ffff]))
        .Array[0, 12]
        .Select(codePoints => string.Concat(codePoints.Select(char.ConvertFromUtf32)));

    /// <summary>Finite doubles of every magnitude, and whole numbers within ±2^53.</summary>
    public static readonly Gen<double> Number = Gen.Frequency(
        (2, Gen.Double.Where(double.IsFinite)),
        (2, Gen.Long[-(1L << 53), 1L << 53].Select(l => (double)l)),
        (1, Gen.Int[-1000, 1000].Select(i => (double)i)));

    public static readonly Gen<JsonNode?> Leaf = Gen.Frequency(
        (1, Gen.Const((JsonNode?)null)),
        (1, Gen.Bool.Select(b => (JsonNode?)JsonValue.Create(b))),
        (3, Number.Select(d => (JsonNode?)JsonValue.Create(d))),
        (3, Text.Select(s => (JsonNode?)JsonValue.Create(s))));

    /// <summary>Any JSON value; objects have distinct keys.</summary>
    public static readonly Gen<JsonNode?> Value = Gen.Recursive<JsonNode?>((depth, value) => depth >= 5
        ? Leaf
        : Gen.Frequency(
            (3, Leaf),
            (1, value.Array[0, 5].Select(items => (JsonNode?)new JsonArray([.. items]))),
            (1, Gen.Select(Text, value).Array[0, 5].Select(members => (JsonNode?)ObjectOf(members)))));

    public static readonly Gen<JsonObject> Object = Gen.Select(Text, Value).Array[0, 6].Select(ObjectOf);

    private static JsonObject ObjectOf((string Key, JsonNode? Value)[] members)
    {
        var result = new JsonObject();
        foreach (var (key, value) in members)
        {
            result[key] = value;
        }

        return result;
    }
}
