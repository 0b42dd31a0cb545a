using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks.Builtin.Expressions;

namespace Tenzro.Node.Core.Tasks.Builtin.Aggregate;

/// <summary>
/// A dotted path into a task result, such as <c>output</c> or <c>returns.0</c>: each segment names an
/// object member, or, on an array, a zero-based index.
/// </summary>
internal sealed class ResultPath
{
    public const int MaxLength = 1_000;

    private readonly PathSegment[] _segments;

    private ResultPath(string text, PathSegment[] segments)
    {
        Text = text;
        _segments = segments;
    }

    public string Text { get; }

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says why.</summary>
    public static bool TryParse(string text, out ResultPath? path, out string? error)
    {
        path = null;
        error = null;
        if (text.Length > MaxLength)
        {
            error = $"is {text.Length} characters long; the limit is {MaxLength}.";
            return false;
        }

        var parts = text.Split('.');
        if (parts.Any(p => p.Length == 0))
        {
            error = $"'{text}' has an empty segment; write member names and indexes separated by single dots, e.g. \"returns.0\".";
            return false;
        }

        path = new ResultPath(text, [.. parts.Select(p => new PathSegment(p))]);
        return true;
    }

    /// <summary>The node at this path below <paramref name="root"/>; false when a segment is missing.</summary>
    public bool TrySelect(JsonNode? root, out JsonNode? found)
    {
        found = root;
        foreach (var segment in _segments)
        {
            switch (found)
            {
                case JsonObject o when o.TryGetPropertyValue(segment.Name, out var member):
                    found = member;
                    break;
                case JsonArray a when segment.Index is { } i && i < a.Count:
                    found = a[i];
                    break;
                default:
                    found = null;
                    return false;
            }
        }

        return true;
    }
}
