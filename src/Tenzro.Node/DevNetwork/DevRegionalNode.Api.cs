using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Regional;

namespace Tenzro.Node.DevNetwork;

/// <summary>The development regional node's small HTTP API, for people and for <c>dev-network submit</c>.</summary>
internal sealed partial class DevRegionalNode
{
    private static void MapHttpApi(WebApplication app, Func<DevRegionalNode> node)
    {
        app.MapGet("/health", () => Results.Json(new JsonObject { ["status"] = "healthy", ["checks"] = new JsonObject() }));
        app.MapGet("/status", () => Results.Json(node().Snapshot()));
        app.MapPost("/tasks", async (HttpRequest request) =>
        {
            JsonObject? task;
            try
            {
                task = await JsonNode.ParseAsync(request.Body) as JsonObject;
            }
            catch (JsonException e)
            {
                return Results.Problem(statusCode: 400, title: "The body is not JSON", detail: e.Message);
            }

            if (task is null)
            {
                return Results.Problem(statusCode: 400, title: "The body is not a JSON object", detail: "Send one task object, as docs/PROTOCOL.md section 6 describes it.");
            }

            var completed = WithDefaults(task);
            IReadOnlyList<string> assigned;
            try
            {
                assigned = await node().AssignAsync(completed);
            }
            catch (InvalidOperationException e)
            {
                return Results.Problem(statusCode: 422, title: "Task assignment failed", detail: e.Message);
            }

            var taskId = RegionalMessages.StringMember(completed, "taskId")!;
            if (assigned.Count == 0)
            {
                return Results.Problem(
                    statusCode: 422,
                    title: "No node can take the task",
                    detail: "No joined node of the region has a tier, memory, storage and load that suit this task (docs/PROTOCOL.md section 7).");
            }

            return Results.Json(new JsonObject { ["taskId"] = taskId, ["assignedNodes"] = new JsonArray([.. assigned.Select(p => (JsonNode)p)]) }, statusCode: 202);
        });
        app.MapGet("/tasks/{taskId}", (string taskId) => node().TaskSnapshot(taskId) is { } task ? Results.Json(task) : Results.Problem(statusCode: 404, title: "Unknown task", detail: $"No task {taskId} was submitted to this regional node."));
    }

    /// <summary>
    /// Fills what a hand-written task file may leave out: an id, requirements (one node), a reward, the
    /// status block, timestamp and expiry. What the file gives is kept.
    /// </summary>
    internal static JsonObject WithDefaults(JsonObject task)
    {
        var copy = (JsonObject)task.DeepClone();
        var now = DateTime.UtcNow;
        copy["taskId"] ??= $"dev-{Guid.NewGuid():N}"[..16];
        copy["requirements"] ??= new JsonObject { ["minTier"] = "inference", ["priority"] = "medium", ["estimatedDuration"] = 60, ["maxNodes"] = 1 };
        copy["reward"] ??= new JsonObject { ["total"] = 100, ["validatorShare"] = 10, ["deadline"] = Now(now.AddHours(1)), ["penaltyRate"] = 0 };
        copy["status"] ??= new JsonObject { ["state"] = "pending", ["assignedNodes"] = new JsonArray(), ["acceptedNodes"] = new JsonArray(), ["progress"] = 0 };
        copy["timestamp"] ??= Now(now);
        copy["expiry"] ??= Now(now.AddMinutes(30));
        copy["submitter"] ??= "dev-network";
        return copy;
    }

    /// <summary>The joined peers and the tasks, as <c>GET /status</c> shows them.</summary>
    internal JsonObject Snapshot()
    {
        lock (_lock)
        {
            return new JsonObject
            {
                ["peerId"] = SelfPeerId,
                ["region"] = RegionName,
                ["peers"] = new JsonArray([.. _peers.Where(p => p.Connection is not null).Select(p => (JsonNode)new JsonObject
                {
                    ["peerId"] = p.PeerId,
                    ["nodeTier"] = p.NodeTier,
                    ["region"] = p.Region,
                    ["activeTasks"] = p.ActiveTasks,
                    // The group a leader reports in its node_status (docs/PROTOCOL.md); null for other nodes.
                    ["aggregation"] = p.Status?["aggregation"]?.DeepClone(),
                })]),
                ["tasks"] = new JsonArray([.. _tasks.Keys.Select(id => (JsonNode)TaskSnapshotLocked(id)!)]),
                ["totalRewardsDistributed"] = _totalRewards,
            };
        }
    }

    /// <summary>Who took a task and what each returned; null for an unknown task.</summary>
    internal JsonObject? TaskSnapshot(string taskId)
    {
        lock (_lock)
        {
            return TaskSnapshotLocked(taskId);
        }
    }

    private JsonObject? TaskSnapshotLocked(string taskId)
    {
        if (!_tasks.TryGetValue(taskId, out var task))
        {
            return null;
        }

        return new JsonObject
        {
            ["taskId"] = taskId,
            ["type"] = task.Body["type"]?.DeepClone(),
            ["assignedNodes"] = new JsonArray([.. task.Assigned.Select(p => (JsonNode)p)]),
            ["acceptedNodes"] = new JsonArray([.. task.Accepted.Select(p => (JsonNode)p)]),
            ["completed"] = task.Completed,
            ["results"] = new JsonObject(task.Results.Select(r => new KeyValuePair<string, JsonNode?>(r.Key, r.Value.DeepClone()))),
            // Frames as they came, whatever this node made of them: a peer that reconnects is no longer in acceptedNodes
            // (section 7 forgets a leaving peer's acceptances), yet its outbox still sends what it owes.
            ["acceptedFrames"] = _received.Count(m => m.TaskId == taskId && m.Type == "task_accepted"),
            // Every task_completed frame, in order of arrival: a node's outbox may repeat one after a crash, never with other content.
            ["completedFrames"] = new JsonArray([.. _received
                .Where(m => m.TaskId == taskId && m.Type == "task_completed")
                .Select(m => (JsonNode)new JsonObject { ["peerId"] = m.PeerId, ["result"] = m.Message["result"]?.DeepClone() })]),
            ["failures"] = new JsonArray([.. _received
                .Where(m => m.TaskId == taskId && m.Type is "task_failed" or "task_rejected")
                .Select(m => (JsonNode)new JsonObject { ["peerId"] = m.PeerId, ["type"] = m.Type, ["reason"] = (m.Message["reason"] ?? m.Message["error"])?.DeepClone() })]),
        };
    }

    private static string Now(DateTime time) => time.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
