using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;

namespace Tenzro.Node.Core.Json;

/// <summary>
/// Parses JSON from an untrusted party (an HTTP body, a regional frame) and refuses, with a message a person
/// can act on, everything that System.Text.Json would accept now and fail on later, deep inside the node:
/// invalid UTF-8, an escaped lone surrogate, a number that is not a finite double, a key repeated in one
/// object, nesting past <see cref="MaxDepth"/>. Whatever it returns can be read, canonicalized and digested.
/// </summary>
/// <remarks>Thread-safe: all members are static.</remarks>
public static class StrictJson
{
    /// <summary>The deepest nesting accepted (objects and arrays), as CONTRACTS.md "Reliability codes" sets.</summary>
    public const int MaxDepth = 64;

    // One level more than allowed, so that Scan sees the start that goes too deep and says so itself.
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = MaxDepth + 1, CommentHandling = JsonCommentHandling.Disallow, AllowTrailingCommas = false };

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = MaxDepth, CommentHandling = JsonCommentHandling.Disallow, AllowTrailingCommas = false };

    /// <summary>
    /// Parses <paramref name="utf8"/> (a leading byte-order mark is skipped). Returns false with
    /// <paramref name="error"/> saying what is wrong and where; <paramref name="node"/> is null for the literal <c>null</c>.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8, out JsonNode? node, [NotNullWhen(false)] out string? error)
    {
        node = null;
        if (utf8.StartsWith(Encoding.UTF8.Preamble))
        {
            utf8 = utf8[Encoding.UTF8.Preamble.Length..];
        }

        if (utf8.IsEmpty)
        {
            error = "the body is empty";
            return false;
        }

        if (InvalidUtf8At(utf8) is { } offset)
        {
            error = $"the bytes are not valid UTF-8 (byte {offset}); send the text encoded as UTF-8";
            return false;
        }

        if (!Scan(utf8, out error))
        {
            return false;
        }

        node = JsonNode.Parse(utf8, documentOptions: DocumentOptions);
        return true;
    }

    private static int? InvalidUtf8At(ReadOnlySpan<byte> utf8)
    {
        if (Utf8.IsValid(utf8))
        {
            return null;
        }

        var buffer = new char[Math.Min(utf8.Length, 4096)];
        var offset = 0;
        while (true)
        {
            var status = Utf8.ToUtf16(utf8[offset..], buffer, out var read, out _, replaceInvalidSequences: false, isFinalBlock: true);
            offset += read;
            if (status != OperationStatus.DestinationTooSmall)
            {
                return offset;
            }
        }
    }

    /// <summary>Reads every token once: syntax and depth, then strings, numbers and keys that would fail later.</summary>
    private static bool Scan(ReadOnlySpan<byte> utf8, [NotNullWhen(false)] out string? error)
    {
        var reader = new Utf8JsonReader(utf8, isFinalBlock: true, new JsonReaderState(ReaderOptions));
        var keys = new Stack<HashSet<string>?>();
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && keys.Count == MaxDepth)
                {
                    error = $"it nests deeper than {MaxDepth} levels of objects and arrays (byte {reader.TokenStartIndex}); flatten it";
                    return false;
                }

                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        keys.Push(new HashSet<string>(StringComparer.Ordinal));
                        break;
                    case JsonTokenType.StartArray:
                        keys.Push(null);
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        keys.Pop();
                        break;
                    case JsonTokenType.PropertyName:
                        if (!TryReadString(ref reader, out var name, out error))
                        {
                            return false;
                        }

                        if (!keys.Peek()!.Add(name))
                        {
                            error = $"the key \"{Shorten(name)}\" appears twice in one object (byte {reader.TokenStartIndex}); send each key once";
                            return false;
                        }

                        break;
                    case JsonTokenType.String:
                        if (!TryReadString(ref reader, out _, out error))
                        {
                            return false;
                        }

                        break;
                    case JsonTokenType.Number:
                        if (!reader.TryGetDouble(out var number) || !double.IsFinite(number))
                        {
                            var text = Encoding.UTF8.GetString(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan);
                            error = $"the number {Shorten(text)} (byte {reader.TokenStartIndex}) is too large for a 64-bit floating point value; send a smaller number, or a string";
                            return false;
                        }

                        break;
                }
            }
        }
        catch (JsonException e)
        {
            error = $"it is not valid JSON: {e.Message}";
            return false;
        }

        error = null;
        return true;
    }

    private static bool TryReadString(ref Utf8JsonReader reader, [NotNullWhen(true)] out string? value, [NotNullWhen(false)] out string? error)
    {
        try
        {
            value = reader.GetString()!;
            error = null;
            return true;
        }
        catch (InvalidOperationException)
        {
            value = null;
            error = $"a string (byte {reader.TokenStartIndex}) escapes a lone surrogate such as \\ud800, which is not Unicode; escape whole surrogate pairs only";
            return false;
        }
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
