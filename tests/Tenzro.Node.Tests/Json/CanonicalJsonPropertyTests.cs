using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Jcs;

/// <summary>Properties of RFC 8785 canonical JSON and the digest, over generated values.</summary>
[Trait("Suite", "json")]
public sealed class CanonicalJsonPropertyTests
{
    [Fact]
    public void Serialize_AnyValue_IsAFixedPointThatStrictJsonAccepts() =>
        JsonGen.Value.Sample(node =>
        {
            var canonical = CanonicalJson.Serialize(node);

            Assert.True(StrictJson.TryParse(canonical, out var reparsed, out var error), error);
            Assert.Equal(canonical, CanonicalJson.Serialize(reparsed));
        }, iter: 2000);

    [Fact]
    public void Digest_MembersReorderedAndIndented_IsUnchanged() =>
        JsonGen.Value.Sample(node =>
        {
            var shuffled = Reversed(node);
            var indented = JsonNode.Parse(shuffled?.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) ?? "null");

            Assert.Equal(CanonicalJson.Digest(node), CanonicalJson.Digest(indented));
        }, iter: 2000);

    [Fact]
    public void Serialize_AnyFiniteNumber_ReadsBackAsTheSameDouble() =>
        JsonGen.Number.Sample(number =>
        {
            var text = Encoding.UTF8.GetString(CanonicalJson.Serialize(JsonValue.Create(number)));

            Assert.Equal(number, double.Parse(text, System.Globalization.CultureInfo.InvariantCulture));
        }, iter: 5000);

    [Fact]
    public void Digest_DifferentStrings_Differ() =>
        Gen.Select(JsonGen.Text, JsonGen.Text).Where(pair => pair.Item1 != pair.Item2).Sample((a, b) =>
            Assert.NotEqual(CanonicalJson.Digest(JsonValue.Create(a)), CanonicalJson.Digest(JsonValue.Create(b))), iter: 2000);

    private static JsonNode? Reversed(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.Reverse().Select(p => KeyValuePair.Create(p.Key, Reversed(p.Value)))),
        JsonArray a => new JsonArray([.. a.Select(Reversed)]),
        _ => node?.DeepClone(),
    };
}
