using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Aggregation;

namespace Tenzro.Node.Networking.Aggregation;

/// <summary>
/// Where a group member keeps its group under DATA_DIR/aggregation: <c>group.json</c> (the group id, this node's
/// log address and the members it knew when it joined) beside the log's own folder, so a restarted member rejoins.
/// </summary>
/// <remarks>Not thread-safe: the aggregation service's loop is its only user.</remarks>
internal sealed class GroupFiles(string dataDirectory)
{
    public string Root { get; } = Path.Combine(dataDirectory, "aggregation");

    public string LogDirectory => Path.Combine(Root, "log");

    private string GroupFile => Path.Combine(Root, "group.json");

    public (GroupMember Self, GroupState Known)? Load()
    {
        try
        {
            if (!File.Exists(GroupFile))
            {
                return null;
            }

            var json = JsonNode.Parse(File.ReadAllText(GroupFile))!.AsObject();
            var self = new GroupMember(json["self"]!["id"]!.GetValue<string>(), json["self"]!["raft"]!.GetValue<string>());
            var finalize = new JsonObject { ["groupId"] = json["groupId"]!.GetValue<string>(), ["members"] = json["members"]!.DeepClone() };
            return GroupMessages.FinalizedState(finalize) is { } known ? (self, known) : null;
        }
        catch (Exception e) when (e is JsonException or IOException or NullReferenceException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    public void Save(GroupMember self, GroupState known)
    {
        Directory.CreateDirectory(Root);
        var json = new JsonObject
        {
            ["groupId"] = known.GroupId,
            ["self"] = new JsonObject { ["id"] = self.Id, ["raft"] = self.Raft },
            ["members"] = new JsonArray([.. known.Members.Select(m => (JsonNode)new JsonObject { ["id"] = m.Id, ["raft"] = m.Raft })]),
        };
        var temporary = GroupFile + ".tmp";
        File.WriteAllText(temporary, json.ToJsonString());
        File.Move(temporary, GroupFile, overwrite: true);
    }

    /// <summary>Forgets the group: the file and the log (a dissolved group, or one this node left).</summary>
    public void Delete()
    {
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }
}
