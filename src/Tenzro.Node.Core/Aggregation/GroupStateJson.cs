using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.Core.Aggregation;

/// <summary>The group state as the group log writes it: one JSON object per entry and per snapshot.</summary>
/// <remarks>Stateless and thread-safe.</remarks>
public static class GroupStateJson
{
    public static byte[] Encode(GroupState state) => JsonSerializer.SerializeToUtf8Bytes(ToJson(state));

    public static JsonObject ToJson(GroupState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return new JsonObject
        {
            ["groupId"] = state.GroupId,
            ["members"] = new JsonArray([.. state.Members.Select(m => (JsonNode)new JsonObject { ["id"] = m.Id, ["raft"] = m.Raft })]),
            ["jobs"] = new JsonArray([.. state.Jobs.Select(Job)]),
        };
    }

    public static GroupState Decode(ReadOnlySpan<byte> bytes)
    {
        var json = JsonNode.Parse(bytes)!.AsObject();
        return new GroupState(
            json["groupId"]!.GetValue<string>(),
            [.. json["members"]!.AsArray().Select(m => new GroupMember(m!["id"]!.GetValue<string>(), m["raft"]!.GetValue<string>()))])
        {
            Jobs = json["jobs"] is JsonArray jobs ? [.. jobs.Select(j => Job(j!.AsObject()))] : [],
        };
    }

    private static JsonObject Job(SplitJob job) => new()
    {
        ["parentId"] = job.ParentId,
        ["home"] = job.Home,
        ["type"] = job.Type,
        ["owner"] = job.Owner,
        ["redundancy"] = job.Redundancy,
        ["disagreed"] = new JsonArray([.. job.Disagreed.Select(d => (JsonNode)d)]),
        ["parts"] = new JsonArray([.. job.Parts.Select(p => (JsonNode)new JsonObject
        {
            ["index"] = p.Index,
            ["payload"] = p.Payload,
            ["runs"] = new JsonArray([.. p.Runs.Select(Run)]),
        })]),
    };

    private static JsonObject Run(PartRun run) => new()
    {
        ["member"] = run.Member,
        ["state"] = run.State,
        ["leaseUntil"] = run.LeaseUntil.ToUnixTimeMilliseconds(),
        ["digest"] = run.Digest,
        ["result"] = run.Result,
        ["durationMs"] = run.DurationMs,
        ["error"] = run.Error,
    };

    private static SplitJob Job(JsonObject json) => new(
        GroupMessages.Text(json, "parentId")!,
        GroupMessages.Text(json, "home")!,
        GroupMessages.Text(json, "type")!,
        GroupMessages.Text(json, "owner")!,
        json["redundancy"]!.GetValue<int>(),
        [.. json["parts"]!.AsArray().Select(p => new SplitPart(p!["index"]!.GetValue<int>(), GroupMessages.Text(p.AsObject(), "payload")!, [.. p["runs"]!.AsArray().Select(r => Run(r!.AsObject()))]))],
        [.. json["disagreed"]!.AsArray().Select(d => d!.GetValue<string>())]);

    private static PartRun Run(JsonObject json) => new(
        GroupMessages.Text(json, "member")!,
        GroupMessages.Text(json, "state")!,
        DateTimeOffset.FromUnixTimeMilliseconds(json["leaseUntil"]!.GetValue<long>()),
        GroupMessages.Text(json, "digest"),
        GroupMessages.Text(json, "result"),
        json["durationMs"] is JsonValue d && d.TryGetValue<long>(out var ms) ? ms : null,
        GroupMessages.Text(json, "error"));
}
