using System.Net;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;

using Tenzro.Node.Security;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Api;

/// <summary>
/// <c>/api/resources/limits</c>, <c>/api/resources/status</c> and the loopback-only <c>/api/resources/clear</c>
/// (docs/RESOURCES.md).
/// </summary>
internal static class ResourcesApi
{
    public static WebApplication MapResourcesApi(this WebApplication app)
    {
        var group = app.MapGroup("/api/resources").WithTags("Resources");
        group.MapGet("/limits", (IResourceLedger ledger, ResourceSampler sampler, UserActivityMonitor user, ResourceOptions resources, TaskOptions tasks, QuotaOptions quotas) =>
        {
            var usage = sampler.Current;
            return TypedResults.Json(new JsonObject
            {
                ["capacity"] = new JsonObject
                {
                    ["cpuCores"] = Environment.ProcessorCount,
                    ["memoryBytes"] = usage.MemoryTotalBytes,
                    ["storageTotalBytes"] = usage.StorageTotalBytes,
                    ["storageFreeBytes"] = usage.StorageFreeBytes,
                    ["gpuCount"] = usage.Gpus.Count,
                },
                ["allowed"] = Amounts(ledger.Allowed),
                ["limitsInForce"] = user.Current.UserActive ? "active" : "idle",
                ["idleLimits"] = Amounts(user.IdleLimits),
                ["activeLimits"] = Amounts(user.ActiveLimits),
                ["settings"] = new JsonObject
                {
                    ["maxCpuPercent"] = resources.MaxCpuPercent,
                    ["maxMemoryGb"] = resources.MaxMemoryGb,
                    ["maxStorageGb"] = resources.MaxStorageGb,
                    ["maxGpuMemoryGb"] = resources.MaxGpuMemoryGb,
                    ["activeMaxCpuPercent"] = resources.ActiveMaxCpuPercent,
                    ["activeMaxMemoryGb"] = resources.ActiveMaxMemoryGb,
                    ["runOnlyWhenIdle"] = resources.RunOnlyWhenIdle,
                    ["idleAfterMs"] = (long)resources.IdleAfter.TotalMilliseconds,
                    ["maxConcurrentTasks"] = tasks.MaxConcurrentTasks is { } slots ? slots : "auto",
                    ["maxQueuedTasks"] = tasks.MaxQueuedTasks,
                    ["taskTimeoutSeconds"] = tasks.TaskTimeout.TotalSeconds,
                },
                ["thresholds"] = new JsonObject
                {
                    ["criticalMemoryPercent"] = resources.CriticalMemoryPercent,
                    ["criticalStoragePercent"] = resources.CriticalStoragePercent,
                    ["hysteresisPercent"] = PressureMonitor.HysteresisPercent,
                },
                ["quotas"] = new JsonObject
                {
                    ["tasksPerMinute"] = quotas.TasksPerMinute,
                    ["cpuSecondsPerHour"] = quotas.CpuSecondsPerHour,
                    ["appliesToLoopback"] = quotas.ApplyToLoopback,
                },
            });
        }).WithName("GetResourceLimits").WithSummary("Capacity, what the network may reserve (idle and active limits), thresholds and quotas.");

        group.MapGet("/status", (IResourceLedger ledger, ResourceSampler sampler, UserActivityMonitor user, TaskEngine engine, IntakeState intake, ResourceOptions resources) =>
        {
            var usage = sampler.Current;
            var reservations = ledger.Reservations;
            var activity = user.Current;
            return TypedResults.Json(new JsonObject
            {
                ["sampledAt"] = Timestamps.FormatPrecise(usage.SampledAt),
                ["usage"] = new JsonObject
                {
                    ["hostCpuPercent"] = usage.HostCpuPercent,
                    ["memoryTotalBytes"] = usage.MemoryTotalBytes,
                    ["memoryAvailableBytes"] = usage.MemoryAvailableBytes,
                    ["memoryUsedPercent"] = Math.Round(usage.MemoryUsedPercent, 2),
                    ["storageTotalBytes"] = usage.StorageTotalBytes,
                    ["storageFreeBytes"] = usage.StorageFreeBytes,
                    ["storageUsedPercent"] = Math.Round(usage.StorageUsedPercent, 2),
                    ["processCpuPercent"] = usage.ProcessCpuPercent,
                    ["processMemoryBytes"] = usage.ProcessMemoryBytes,
                    ["gpus"] = new JsonArray([.. usage.Gpus.Select(g => (JsonNode)new JsonObject
                    {
                        ["name"] = g.Name,
                        ["utilizationPercent"] = g.UtilizationPercent,
                        ["memoryUsedBytes"] = g.MemoryUsedBytes,
                        ["memoryTotalBytes"] = g.MemoryTotalBytes,
                    })]),
                },
                ["userActive"] = activity.UserActive,
                ["idleFor"] = activity.IdleFor is { } idle ? Math.Round(idle.TotalSeconds, 1) : null,
                ["activitySource"] = activity.Source,
                ["activityProblem"] = activity.Problem,
                ["userActiveSince"] = Timestamps.FormatPrecise(activity.Since),
                ["runOnlyWhenIdle"] = resources.RunOnlyWhenIdle,
                ["limitsInForce"] = activity.UserActive ? "active" : "idle",
                ["allowed"] = Amounts(ledger.Allowed),
                ["reserved"] = Amounts(ledger.Reserved),
                ["free"] = Amounts(ledger.Free),
                ["heldByNode"] = new JsonObject(ledger.Holders.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => KeyValuePair.Create(h.Key, (JsonNode?)Amounts(h.Value)))),
                ["reservations"] = new JsonArray([.. reservations.Select(r => (JsonNode)Reservation(r, engine.IsRunning(r.TaskId), engine.IsPaused(r.TaskId)))]),
                ["orphaned"] = new JsonArray([.. reservations.Where(r => !engine.IsRunning(r.TaskId)).Select(r => (JsonNode)r.TaskId)]),
                ["paused"] = new JsonArray([.. engine.PausedTasks().Select(p => (JsonNode)new JsonObject
                {
                    ["taskId"] = p.TaskId,
                    ["pausedAt"] = Timestamps.FormatPrecise(p.PausedAt),
                    ["holding"] = p.Holding,
                    ["reason"] = p.Reason,
                })]),
                ["pressure"] = intake.Pressure,
                ["draining"] = intake.Draining,
                ["running"] = engine.RunningCount,
                ["queued"] = engine.QueuedCount,
                ["quotas"] = Budgets(engine.Budgets()),
            });
        }).WithName("GetResourceStatus").WithSummary("Live usage, the user's activity and the limits in force, reservations, paused tasks and what is free to reserve.");

        group.MapPost("/clear", (IResourceLedger ledger, TaskEngine engine) =>
        {
            var released = ledger.Reservations.Where(r => !engine.IsRunning(r.TaskId) && ledger.Release(r.TaskId)).Select(r => r.TaskId).ToList();
            engine.Pump();
            return TypedResults.Json(new JsonObject { ["released"] = new JsonArray([.. released.Select(id => (JsonNode)id)]) });
        }).RequireAuthorization(NodePolicies.Admin).WithName("ClearResources").WithSummary("Release reservations that no running task owns (admin).");
        return app;
    }

    /// <summary>The byte budgets (QUOTA_QUEUED_BYTES, QUOTA_STORED_BYTES): what is used and the limit.</summary>
    public static JsonObject Budgets(ByteBudgets budgets) => new()
    {
        ["queuedBytes"] = budgets.QueuedBytes,
        ["queuedBytesLimit"] = budgets.QueuedLimit,
        ["storedBytes"] = budgets.StoredBytes,
        ["storedBytesLimit"] = budgets.StoredLimit,
    };

    public static JsonObject Amounts(ResourceAmounts amounts) => (amounts with { Cpu = Math.Round(amounts.Cpu, 3) }).ToJson();

    private static JsonObject Reservation(Reservation reservation, bool running, bool paused)
    {
        var body = Amounts(reservation.Amounts);
        body["taskId"] = reservation.TaskId;
        body["reservedAt"] = Timestamps.FormatPrecise(reservation.ReservedAt);
        body["running"] = running;
        body["paused"] = paused;
        return body;
    }
}
