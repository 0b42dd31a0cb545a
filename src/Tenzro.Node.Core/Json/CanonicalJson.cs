using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.Core.Json;

/// <summary>
/// RFC 8785 JSON Canonicalization Scheme (JCS): object members sorted by UTF-16 code units,
/// no insignificant whitespace, numbers in ECMAScript's shortest form, minimal string escaping,
/// UTF-8 output. Used by result digests and message signatures, so equal values always give equal bytes.
/// </summary>
/// <remarks>Thread-safe: all members are static and allocate their own buffers.</remarks>
public static class CanonicalJson
{
    /// <summary>Canonical UTF-8 bytes of a JSON element.</summary>
    /// <exception cref="FormatException">A number is not finite or a string holds a lone surrogate.</exception>
    public static byte[] Serialize(JsonElement element) => Encoding.UTF8.GetBytes(ToCanonicalString(element));

    /// <summary>Canonical UTF-8 bytes of a JSON node; <c>null</c> is the JSON literal null.</summary>
    public static byte[] Serialize(JsonNode? node)
    {
        using var document = JsonDocument.Parse(node?.ToJsonString() ?? "null");
        return Serialize(document.RootElement);
    }

    /// <summary>Canonical form as a string.</summary>
    public static string ToCanonicalString(JsonElement element)
    {
        var builder = new StringBuilder();
        Write(element, builder);
        return builder.ToString();
    }

    /// <summary>Lowercase hex SHA-256 of the canonical form: the <c>digest</c> of a result.</summary>
    public static string Digest(JsonElement element) => Convert.ToHexStringLower(SHA256.HashData(Serialize(element)));

    /// <inheritdoc cref="Digest(JsonElement)"/>
    public static string Digest(JsonNode? node) => Convert.ToHexStringLower(SHA256.HashData(Serialize(node)));

    /// <summary>The digest of a text already in canonical form (as <see cref="ToCanonicalString"/> wrote it).</summary>
    public static string DigestOfCanonical(string canonical) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));

    private static void Write(JsonElement element, StringBuilder output)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var members = new List<(string Name, JsonElement Value)>();
                foreach (var property in element.EnumerateObject())
                {
                    members.Add((property.Name, property.Value));
                }

                members.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
                output.Append('{');
                for (var i = 0; i < members.Count; i++)
                {
                    if (i > 0)
                    {
                        output.Append(',');
                    }

                    WriteString(members[i].Name, output);
                    output.Append(':');
                    Write(members[i].Value, output);
                }

                output.Append('}');
                break;
            case JsonValueKind.Array:
                output.Append('[');
                var first = true;
                foreach (var item in element.EnumerateArray())
                {
                    if (!first)
                    {
                        output.Append(',');
                    }

                    first = false;
                    Write(item, output);
                }

                output.Append(']');
                break;
            case JsonValueKind.String:
                WriteString(element.GetString()!, output);
                break;
            case JsonValueKind.Number:
                output.Append(FormatNumber(element.GetDouble()));
                break;
            case JsonValueKind.True:
                output.Append("true");
                break;
            case JsonValueKind.False:
                output.Append("false");
                break;
            case JsonValueKind.Null:
                output.Append("null");
                break;
            default:
                throw new FormatException($"Cannot canonicalize a JSON {element.ValueKind}.");
        }
    }

    /// <summary>The characters a string cannot copy as they are: those escaped, and surrogates, checked for pairs.</summary>
    private static readonly System.Buffers.SearchValues<char> Special = System.Buffers.SearchValues.Create(
        string.Concat(Enumerable.Range(0, 0x20).Concat([(int)'"', (int)'\\']).Concat(Enumerable.Range(0xD800, 0x800)).Select(c => (char)c)));

    private static void WriteString(string value, StringBuilder output)
    {
        output.Append('"');
        for (var i = 0; i < value.Length; i++)
        {
            // Runs of plain characters are copied at once; only the special ones go through the switch.
            var plain = value.AsSpan(i).IndexOfAny(Special);
            if (plain < 0)
            {
                output.Append(value.AsSpan(i));
                break;
            }

            output.Append(value.AsSpan(i, plain));
            i += plain;
            var c = value[i];
            switch (c)
            {
                case '"': output.Append("\\\""); break;
                case '\\': output.Append("\\\\"); break;
                case '\b': output.Append("\\b"); break;
                case '\f': output.Append("\\f"); break;
                case '\n': output.Append("\\n"); break;
                case '\r': output.Append("\\r"); break;
                case '\t': output.Append("\\t"); break;
                default:
                    if (c < 0x20)
                    {
                        output.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else if (char.IsHighSurrogate(c))
                    {
                        if (i + 1 >= value.Length || !char.IsLowSurrogate(value[i + 1]))
                        {
                            throw new FormatException("A string holds a lone surrogate, which has no UTF-8 form.");
                        }

                        output.Append(c).Append(value[++i]);
                    }
                    else if (char.IsLowSurrogate(c))
                    {
                        throw new FormatException("A string holds a lone surrogate, which has no UTF-8 form.");
                    }
                    else
                    {
                        output.Append(c);
                    }

                    break;
            }
        }

        output.Append('"');
    }

    /// <summary>Formats a double as ECMAScript's Number.prototype.toString does (ECMA-262 7.1.12.1).</summary>
    /// <exception cref="FormatException">NaN or an infinity, which JSON cannot hold.</exception>
    public static string FormatNumber(double value)
    {
        if (!double.IsFinite(value))
        {
            throw new FormatException("NaN and infinities have no JSON form.");
        }

        if (value == 0)
        {
            return "0";
        }

        // "R" yields the shortest digits that round-trip; decompose them into digits and exponent.
        var roundTrip = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        var (digits, pointPosition) = Decompose(roundTrip);
        var k = digits.Length;
        var n = pointPosition;
        var result = new StringBuilder();
        if (value < 0)
        {
            result.Append('-');
        }

        if (k <= n && n <= 21)
        {
            result.Append(digits).Append('0', n - k);
        }
        else if (0 < n && n <= 21)
        {
            result.Append(digits, 0, n).Append('.').Append(digits, n, k - n);
        }
        else if (-6 < n && n <= 0)
        {
            result.Append("0.").Append('0', -n).Append(digits);
        }
        else
        {
            var exponent = n - 1;
            result.Append(digits[0]);
            if (k > 1)
            {
                result.Append('.').Append(digits, 1, k - 1);
            }

            result.Append('e').Append(exponent >= 0 ? "+" : "-").Append(Math.Abs(exponent).ToString(CultureInfo.InvariantCulture));
        }

        return result.ToString();
    }

    /// <summary>Splits .NET's round-trip text into significant digits (no leading/trailing zeros) and the decimal point position n, so that value = 0.digits × 10^n.</summary>
    private static (string Digits, int PointPosition) Decompose(string text)
    {
        var exponent = 0;
        var e = text.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponent = int.Parse(text.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            text = text[..e];
        }

        var dot = text.IndexOf('.', StringComparison.Ordinal);
        var integerPart = dot >= 0 ? text[..dot] : text;
        var fractionPart = dot >= 0 ? text[(dot + 1)..] : string.Empty;
        var allDigits = integerPart + fractionPart;
        var pointPosition = integerPart.Length + exponent;

        var leading = 0;
        while (leading < allDigits.Length - 1 && allDigits[leading] == '0')
        {
            leading++;
        }

        allDigits = allDigits[leading..];
        pointPosition -= leading;
        allDigits = allDigits.TrimEnd('0');
        return (allDigits.Length == 0 ? "0" : allDigits, pointPosition);
    }
}
