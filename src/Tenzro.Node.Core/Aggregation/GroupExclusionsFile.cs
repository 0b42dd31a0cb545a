using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Core.Aggregation;

/// <summary>What <see cref="GroupExclusionsFile"/> keeps: the exclusions and the jobs whose dissenters were excluded.</summary>
public sealed record SavedExclusions(IReadOnlyList<Exclusion> Excluded, IReadOnlyList<string> OutvotedSeen);

/// <summary>
/// <c>DATA_DIR/group-exclusions.json</c>: the exclusions in force, so that a restart within their 10 minutes does not
/// end them (docs/AGGREGATION.md "Exclusion"). It lies beside <c>blocked-peers.json</c>, not in the group's folder,
/// because leaving a group deletes that folder and the exclusions outlast the group. Written atomically (a temporary
/// file, then a rename); a damaged or unreadable file is logged and ignored.
/// </summary>
/// <remarks>Not thread-safe: <see cref="GroupExclusions"/> calls it under its lock.</remarks>
public sealed partial class GroupExclusionsFile(string dataDirectory, ILogger logger)
{
    public const string FileName = "group-exclusions.json";

    public string Path { get; } = System.IO.Path.Combine(dataDirectory, FileName);

    /// <summary>The saved exclusions still in force at <paramref name="now"/>; nothing when the file is missing or damaged.</summary>
    public SavedExclusions Load(DateTimeOffset now)
    {
        try
        {
            if (!File.Exists(Path))
            {
                return new SavedExclusions([], []);
            }

            var json = JsonNode.Parse(File.ReadAllText(Path))!.AsObject();
            var excluded = new List<Exclusion>();
            foreach (var entry in json["excluded"]!.AsArray())
            {
                var until = Timestamps.Parse(entry!["until"]!.GetValue<string>()) ?? throw new FormatException("an exclusion's until is no time");
                if (until > now)
                {
                    excluded.Add(new Exclusion(entry["id"]!.GetValue<string>(), entry["reason"]!.GetValue<string>(), until));
                }
            }

            var seen = (json["outvotedSeen"]?.AsArray() ?? []).Select(s => s!.GetValue<string>()).ToList();
            return new SavedExclusions(excluded, seen);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or NullReferenceException or InvalidOperationException or FormatException)
        {
            LogUnreadable(logger, Path, e.Message);
            return new SavedExclusions([], []);
        }
    }

    /// <summary>Replaces the file with <paramref name="saved"/>; a failure is logged, and the exclusions stay in memory.</summary>
    public void Save(SavedExclusions saved)
    {
        var json = new JsonObject
        {
            ["excluded"] = new JsonArray([.. saved.Excluded.Select(e => (JsonNode)new JsonObject
            {
                ["id"] = e.Id,
                ["reason"] = e.Reason,
                ["until"] = Timestamps.FormatPrecise(e.Until),
            })]),
            ["outvotedSeen"] = new JsonArray([.. saved.OutvotedSeen.Select(s => (JsonNode)s)]),
        };
        var temporary = Path + ".tmp";
        try
        {
            File.WriteAllText(temporary, json.ToJsonString());
            File.Move(temporary, Path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogNotSaved(logger, Path, e.Message);
        }
    }

    [LoggerMessage(EventId = 5655, Level = LogLevel.Warning, Message = "Group exclusions in {Path} ignored: the file is damaged or unreadable ({Reason})")]
    private static partial void LogUnreadable(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 5656, Level = LogLevel.Warning, Message = "Group exclusions not saved to {Path}: {Reason}; they last until this node stops")]
    private static partial void LogNotSaved(ILogger logger, string path, string reason);
}
