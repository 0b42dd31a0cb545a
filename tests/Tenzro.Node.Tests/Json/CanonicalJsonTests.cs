using System.Text.Json;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Tests.Jcs;

/// <summary>RFC 8785 conformance, with the RFC's own examples (sections 3.2.2, 3.2.3 and appendix B).</summary>
[Trait("Suite", "json")]
public sealed class CanonicalJsonTests
{
    private static string Canonical(string json)
    {
        using var document = JsonDocument.Parse(json);
        return CanonicalJson.ToCanonicalString(document.RootElement);
    }

    [Fact]
    public void Serialize_LongPlainRunsBetweenSpecialCharacters_EscapesOnlyTheSpecialOnes()
    {
        var plain = new string('x', 1000);
        var value = $"{plain}\n{plain}\u00e9\"{plain}\ud83d\ude00\u0001{plain}\\";
        var json = JsonSerializer.Serialize(value);

        Assert.Equal($"\"{plain}\\n{plain}é\\\"{plain}😀\\u0001{plain}\\\\\"", Canonical(json));
    }

    [Fact]
    public void Serialize_Rfc8785Section322Example_MatchesTheRfc()
    {
        const string input = """
            {
              "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }
            """;
        const string expected = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";

        Assert.Equal(expected, Canonical(input));
    }

    [Fact]
    public void Serialize_Rfc8785Section323Example_SortsByUtf16CodeUnits()
    {
        const string input = """
            {
              "\u20ac": "Euro Sign",
              "\r": "Carriage Return",
              "\ufb33": "Hebrew Letter Dalet With Dagesh",
              "1": "One",
              "\ud83d\ude00": "Emoji: Grinning Face",
              "\u0080": "Control",
              "\u00f6": "Latin Small Letter O With Diaeresis"
            }
            """;

        var keys = JsonDocument.Parse(Canonical(input)).RootElement.EnumerateObject().Select(p => p.Name).ToArray();

        Assert.Equal(["\r", "1", "\u0080", "\u00f6", "\u20ac", "\ud83d\ude00", "\ufb33"], keys);
    }

    [Theory]
    [InlineData(0x0000000000000000UL, "0")]
    [InlineData(0x8000000000000000UL, "0")]
    [InlineData(0x0000000000000001UL, "5e-324")]
    [InlineData(0x8000000000000001UL, "-5e-324")]
    [InlineData(0x7fefffffffffffffUL, "1.7976931348623157e+308")]
    [InlineData(0xffefffffffffffffUL, "-1.7976931348623157e+308")]
    [InlineData(0x4340000000000000UL, "9007199254740992")]
    [InlineData(0xc340000000000000UL, "-9007199254740992")]
    [InlineData(0x4430000000000000UL, "295147905179352830000")]
    [InlineData(0x44b52d02c7e14af5UL, "9.999999999999997e+22")]
    [InlineData(0x44b52d02c7e14af6UL, "1e+23")]
    [InlineData(0x44b52d02c7e14af7UL, "1.0000000000000001e+23")]
    [InlineData(0x444b1ae4d6e2ef4eUL, "999999999999999700000")]
    [InlineData(0x444b1ae4d6e2ef4fUL, "999999999999999900000")]
    [InlineData(0x444b1ae4d6e2ef50UL, "1e+21")]
    [InlineData(0x3eb0c6f7a0b5ed8cUL, "9.999999999999997e-7")]
    [InlineData(0x3eb0c6f7a0b5ed8dUL, "0.000001")]
    [InlineData(0x41b3de4355555553UL, "333333333.3333332")]
    [InlineData(0x41b3de4355555554UL, "333333333.33333325")]
    [InlineData(0x41b3de4355555555UL, "333333333.3333333")]
    [InlineData(0x41b3de4355555556UL, "333333333.3333334")]
    [InlineData(0x41b3de4355555557UL, "333333333.33333343")]
    [InlineData(0xbecbf647612f3696UL, "-0.0000033333333333333333")]
    [InlineData(0x43143ff3c1cb0959UL, "1424953923781206.2")]
    public void FormatNumber_Rfc8785AppendixB_MatchesEcmaScript(ulong bits, string expected)
    {
        Assert.Equal(expected, CanonicalJson.FormatNumber(BitConverter.UInt64BitsToDouble(bits)));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void FormatNumber_NotFinite_Throws(double value)
    {
        Assert.Throws<FormatException>(() => CanonicalJson.FormatNumber(value));
    }

    [Fact]
    public void Digest_EqualValuesWrittenDifferently_AreEqual()
    {
        using var a = JsonDocument.Parse("""{"b": [1, 2.0, 3e0], "a": {"y": true, "x": null}}""");
        using var b = JsonDocument.Parse("""{"a":{"x":null,"y":true},"b":[1,2,3]}""");

        Assert.Equal(CanonicalJson.Digest(a.RootElement), CanonicalJson.Digest(b.RootElement));
        Assert.Matches("^[0-9a-f]{64}$", CanonicalJson.Digest(a.RootElement));
    }
}
