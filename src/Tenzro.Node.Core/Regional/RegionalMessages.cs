using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Core.Regional;

/// <summary>The <c>type</c> values of the regional link (docs/PROTOCOL.md).</summary>
public static class RegionalMessageTypes
{
    public const string Join = "join";
    public const string Leave = "leave";
    public const string NodeStatus = "node_status";
    public const string TaskAccepted = "task_accepted";
    public const string TaskRejected = "task_rejected";
    public const string TaskProgress = "task_progress";
    public const string TaskCompleted = "task_completed";
    public const string TaskFailed = "task_failed";

    public const string NetworkState = "network_state";
    public const string PeerJoined = "peer_joined";
    public const string PeerLeft = "peer_left";
    public const string Error = "error";
    public const string RewardDistribution = "reward_distribution";
    public const string TaskAssignment = "task_assignment";
    public const string StatusRequest = "status_request";
    public const string Status = "status";
}

/// <summary>What a <c>node_status</c> reports; every field is sent, because the regional node replaces its record wholesale.</summary>
public sealed record NodeStatusFigures
{
    public required string NodeType { get; init; }
    public required string NodeTier { get; init; }
    public required string Region { get; init; }
    public int Connections { get; init; }
    public double CpuPercent { get; init; }

    /// <summary>Available memory in GB (compared by the regional node with a task's <c>minMemory</c>).</summary>
    public double MemoryAvailableGb { get; init; }

    /// <summary>Free storage in GB (compared with a task's <c>minStorage</c>).</summary>
    public double StorageFreeGb { get; init; }

    public double BandwidthMbps { get; init; }
    public double Earnings { get; init; }
    public long ActiveTasks { get; init; }
    public long CompletedTasks { get; init; }
    public required DateTimeOffset Now { get; init; }

    /// <summary>The benchmarked speed (docs/PROTOCOL.md <c>capacity</c>); null before the benchmarks ran.</summary>
    public JsonObject? Capacity { get; init; }

    /// <summary>A group leader's report of its group (CONTRACTS "API additions"); null unless this node leads one.</summary>
    public JsonObject? Aggregation { get; init; }
}

/// <summary>A <c>node_status</c> message (docs/PROTOCOL.md): the reporting node and its status.</summary>
public sealed record NodeStatusMessage(string Type, string PeerId, NodeStatusBody Status);

/// <summary>
/// The <c>status</c> of <c>node_status</c>, in the order the regional node's record has it. It never holds a member
/// named <c>status</c>; <c>capacity</c> and <c>aggregation</c> are left out when there are none.
/// </summary>
public sealed record NodeStatusBody(
    string PeerId,
    bool Online,
    string NodeType,
    string NodeTier,
    string Region,
    int Connections,
    NodeStatusResources Resources,
    double Earnings,
    long ActiveTasks,
    long CompletedTasks,
    string LastUpdate)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonObject? Capacity { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonObject? Aggregation { get; init; }
}

/// <summary>The <c>resources</c> of a node's status: CPU use in percent, free memory and storage in GB, bandwidth in Mbps.</summary>
public sealed record NodeStatusResources(double Cpu, double Memory, double Storage, double Bandwidth, string Timestamp);

/// <summary>
/// Builds the messages this node sends on the regional link, unsigned: the link signs each one
/// (<see cref="SignedEnvelope.Sign"/>) at the moment it is written, so a message held in the outbox
/// while the link was down carries a fresh timestamp.
/// </summary>
/// <remarks>Stateless and thread-safe.</remarks>
public static class RegionalMessages
{
    /// <summary>The wire time format: ISO 8601 UTC with milliseconds.</summary>
    public static string FormatTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public static JsonObject Join(string peerId, string nodeType, string nodeTier, string region, double tokenBalance) => new()
    {
        ["type"] = RegionalMessageTypes.Join,
        ["peerId"] = peerId,
        ["nodeType"] = nodeType,
        ["nodeTier"] = nodeTier,
        ["region"] = region,
        ["tokenBalance"] = tokenBalance,
    };

    public static JsonObject Leave(string peerId) => new()
    {
        ["type"] = RegionalMessageTypes.Leave,
        ["peerId"] = peerId,
    };

    /// <summary>
    /// A full <c>node_status</c>. The status object never holds a member named <c>status</c> (the regional
    /// node would read it as global-node health) and always holds <c>resources</c>.
    /// </summary>
    public static JsonObject NodeStatus(string peerId, NodeStatusFigures figures)
    {
        ArgumentNullException.ThrowIfNull(figures);
        var now = FormatTime(figures.Now);
        var resources = new NodeStatusResources(
            Finite(Math.Round(figures.CpuPercent, 2)),
            Finite(Math.Round(figures.MemoryAvailableGb, 3)),
            Finite(Math.Round(figures.StorageFreeGb, 3)),
            Finite(figures.BandwidthMbps),
            now);
        var status = new NodeStatusBody(
            peerId, true, figures.NodeType, figures.NodeTier, figures.Region, figures.Connections, resources,
            Finite(figures.Earnings), figures.ActiveTasks, figures.CompletedTasks, now)
        {
            Capacity = figures.Capacity,
            Aggregation = figures.Aggregation,
        };
        var message = new NodeStatusMessage(RegionalMessageTypes.NodeStatus, peerId, status);
        return JsonSerializer.SerializeToNode(message, CoreJson.Default.NodeStatusMessage)!.AsObject();
    }

    public static JsonObject TaskAccepted(string peerId, string taskId) => TaskMessage(RegionalMessageTypes.TaskAccepted, peerId, taskId);

    public static JsonObject TaskRejected(string peerId, string taskId, string reason)
    {
        var message = TaskMessage(RegionalMessageTypes.TaskRejected, peerId, taskId);
        message["reason"] = reason;
        return message;
    }

    /// <summary>Progress in percent, 0..100 (the local API reports 0..1).</summary>
    public static JsonObject TaskProgress(string peerId, string taskId, int percent)
    {
        var message = TaskMessage(RegionalMessageTypes.TaskProgress, peerId, taskId);
        message["progress"] = Math.Clamp(percent, 0, 100);
        return message;
    }

    /// <summary>A <c>task_completed</c> whose <c>result</c> is always a non-empty object (see <see cref="WireResult"/>).</summary>
    public static JsonObject TaskCompleted(string peerId, string taskId, string? resultJson, string? digest)
    {
        var message = TaskMessage(RegionalMessageTypes.TaskCompleted, peerId, taskId);
        message["result"] = WireResult(resultJson, digest);
        return message;
    }

    public static JsonObject TaskFailed(string peerId, string taskId, string error)
    {
        var message = TaskMessage(RegionalMessageTypes.TaskFailed, peerId, taskId);
        message["error"] = error;
        return message;
    }

    /// <summary>
    /// The <c>result</c> member of <c>task_completed</c>. The regional node silently drops a falsy result
    /// (0, false, "", null), so the result is always an object that carries the result's <c>digest</c>:
    /// a result object gains a <c>digest</c> member; anything else (or an object that already has a
    /// <c>digest</c> of its own) is wrapped as <c>{"value": result, "digest": …}</c>.
    /// </summary>
    public static JsonObject WireResult(string? resultJson, string? digest)
    {
        JsonNode? result = null;
        if (resultJson is not null)
        {
            try
            {
                result = JsonNode.Parse(resultJson);
            }
            catch (JsonException)
            {
                result = resultJson;
            }
        }

        var wire = result is JsonObject obj && !obj.ContainsKey("digest")
            ? obj
            : new JsonObject { ["value"] = result };
        wire["digest"] = digest ?? CanonicalDigest(result);
        return wire;
    }

    /// <summary>Reads a message's <c>type</c>, or null when it has none or it is not a string.</summary>
    public static string? TypeOf(JsonObject message) => StringMember(message, "type");

    /// <summary>Reads a string member, or null when it is absent, not a string, or not valid UTF-16, or the object repeats a key.</summary>
    public static string? StringMember(JsonObject message, string name)
    {
        try
        {
            return message[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
        }
        catch (InvalidOperationException)
        {
            // A string that is not valid UTF-16 (a lone surrogate escaped as \ud800) cannot be read: as if absent.
            return null;
        }
        catch (ArgumentException)
        {
            // An object parsed with a repeated key throws when it is first read: none of its members can be trusted.
            return null;
        }
    }

    private static string CanonicalDigest(JsonNode? result)
    {
        try
        {
            return Json.CanonicalJson.Digest(result);
        }
        catch (FormatException)
        {
            return string.Empty;
        }
    }

    private static JsonObject TaskMessage(string type, string peerId, string taskId) => new()
    {
        ["type"] = type,
        ["peerId"] = peerId,
        ["taskId"] = taskId,
    };

    private static double Finite(double value) => double.IsFinite(value) ? value : 0;
}
