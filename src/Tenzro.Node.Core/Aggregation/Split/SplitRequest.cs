using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Core.Aggregation.Split;

/// <summary>
/// What a task asks of a group (CONTRACTS "Split tasks"): <c>config.split.parts</c>, <c>config.redundancy</c>,
/// <c>config.split.partRequirements</c>, and for <c>compute</c> the index range and how the parts' returns combine.
/// </summary>
public sealed record SplitRequest(int Parts, int Redundancy, JsonObject? PartRequirements, long RangeStart, long RangeEnd, string Combine)
{
    public const int MaxParts = 64;
    public const int MaxRedundancy = 5;

    /// <summary>The ways the returns of a split <c>compute</c> function combine.</summary>
    public static readonly string[] Combines = ["sum", "min", "max", "concat"];

    /// <summary>Whether the task asks to be split: <c>config.split</c> with <c>parts</c>. Parts carry a range but no <c>parts</c>.</summary>
    public static bool Requested(TaskSpec task) => task.Config["split"] is JsonObject split && split["parts"] is not null;

    /// <summary>The range of a task (<c>config.split.range</c>), whole or part; null when it has none.</summary>
    public static (long Start, long End)? RangeOf(JsonObject config) =>
        config["split"] is JsonObject split && split["range"] is JsonArray { Count: 2 } range
            && Long(range[0]) is { } start && Long(range[1]) is { } end
            ? (start, end)
            : null;

    /// <summary>A whole JSON number as a long, read from its text (so a value built in code reads as one parsed).</summary>
    private static long? Long(JsonNode? node) =>
        node?.GetValueKind() == JsonValueKind.Number && long.TryParse(node.ToJsonString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>Reads <c>config.split</c> and <c>config.redundancy</c>, adding one error per bad field; null when there is any.</summary>
    public static SplitRequest? Read(TaskSpec task, ValidationErrors errors)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(errors);
        if (task.Config["split"] is not JsonObject split)
        {
            errors.AddTypeError("config.split", "must be an object, e.g. {\"parts\": 4}.");
            return null;
        }

        var before = errors.Count;
        var splitFields = new JsonFields(split, "config.split", errors);
        var parts = Whole(splitFields, "parts", 1, MaxParts, 0, errors);
        var redundancy = Whole(new JsonFields(task.Config, "config", errors), "redundancy", 1, MaxRedundancy, 1, errors);
        var partRequirements = splitFields.OptionalObject("partRequirements", "must be an object like requirements, e.g. {\"cpu\": 1, \"memoryMB\": 256}.");

        long start = 0, end = 0;
        if (split["range"] is { } rangeNode)
        {
            if (RangeOf(task.Config) is { } range)
            {
                (start, end) = range;
                if (end <= start)
                {
                    errors.Add("config.split.range", $"[{start}, {end}) is empty; give [start, end) with start < end.");
                }
            }
            else
            {
                errors.AddTypeError("config.split.range", $"must be two whole numbers [start, end), got {rangeNode.ToJsonString()}.");
            }
        }

        var combine = "concat";
        if (split["combine"] is { } combineNode)
        {
            if (combineNode is JsonValue v && v.TryGetValue<string>(out var text) && Combines.Contains(text))
            {
                combine = text;
            }
            else
            {
                errors.Add("config.split.combine", $"must be one of {string.Join(", ", Combines)}.");
            }
        }

        return errors.Count == before ? new SplitRequest(parts, redundancy, partRequirements, start, end, combine) : null;
    }

    private static int Whole(JsonFields fields, string name, int min, int max, int fallback, ValidationErrors errors)
    {
        if (fields[name] is null)
        {
            if (fallback == 0)
            {
                errors.Add(fields.PathOf(name), $"is required: how many parts, {min} to {max}.");
            }

            return fallback;
        }

        if (fields.OptionalNumberText(name, $"must be a whole number from {min} to {max}.") is not { } text)
        {
            return fallback;
        }

        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            errors.Add(fields.PathOf(name), $"must be a whole number from {min} to {max}, got {text}.");
            return fallback;
        }

        return value;
    }
}
