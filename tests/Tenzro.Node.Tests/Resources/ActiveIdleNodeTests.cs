using System.Net;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Resources;

/// <summary>Active and idle limits on a real node, with the machine's user played by a fake reader.</summary>
[Trait("Suite", "resources")]
public sealed class ActiveIdleNodeTests
{
    /// <summary>Counts to data.args[0], reporting progress every 2^20 steps; returns the count.</summary>
    private const string CountingModule = """
        (module
          (import "tenzro" "progress" (func $progress (param f64)))
          (func (export "count") (param $n i64) (result i64)
            (local $i i64)
            (block $done
              (loop $next
                (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
                (local.set $i (i64.add (local.get $i) (i64.const 1)))
                (if (i64.eqz (i64.and (local.get $i) (i64.const 1048575)))
                  (then (call $progress (f64.div (f64.convert_i64_u (local.get $i)) (f64.convert_i64_u (local.get $n))))))
                (br $next)))
            (local.get $i)))
        """;

    private const string SpinningModule = """(module (func (export "spin") (loop br 0)))""";

    private const long Count = 3_000_000_000;

    private static async Task<(TestNode Node, FakeUserActivity User, ScriptedRuntime Script)> StartAsync(Dictionary<string, string?> overrides)
    {
        var user = new FakeUserActivity();
        var script = new ScriptedRuntime();
        var node = await TestNode.StartAsync(overrides, configure: builder =>
        {
            builder.Services.AddSingleton<IUserActivity>(user);
            builder.Services.AddSingleton<ITaskRuntime>(script);
        });
        await node.Service<UserActivityMonitor>().CheckNowAsync(Timeouts.Token());
        return (node, user, script);
    }

    private static async Task SetUserAsync(TestNode node, FakeUserActivity user, bool active)
    {
        user.Active = active;
        var state = await node.Service<UserActivityMonitor>().CheckNowAsync(Timeouts.Token());
        Assert.Equal(active, state.UserActive);
    }

    private static async Task<string> SubmitAcceptedAsync(TestNode node, string json)
    {
        var (status, body) = await node.Client.SubmitAsync(json);
        Assert.True(status == HttpStatusCode.Accepted, $"submit answered {(int)status}: {body?.ToJsonString()}");
        return body!["taskId"]!.GetValue<string>();
    }

    private static string Compute(string wat, string entry, JsonArray args, double timeout, double cpu = 1) => new JsonObject
    {
        ["type"] = "compute",
        ["timeout"] = timeout,
        ["requirements"] = new JsonObject { ["cpu"] = cpu, ["memoryMB"] = 64 },
        ["data"] = new JsonObject { ["wat"] = wat, ["entry"] = entry, ["args"] = args },
        ["config"] = new JsonObject { ["fuel"] = 1_000_000_000_000 },
    }.ToJsonString();

    private static async Task<JsonObject> WaitStatusAsync(TestNode node, string taskId, Func<JsonObject, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeouts.Long;
        while (DateTime.UtcNow < deadline)
        {
            var status = await node.Client.GetJsonAsync($"/api/tasks/{taskId}");
            if (condition(status))
            {
                return status;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"task {taskId}: {what} did not happen in time");
    }

    private static bool Holding(TestNode node, string taskId) =>
        node.Service<TaskEngine>().PausedTasks().Any(p => p.TaskId == taskId && p.Holding);

    [Fact]
    public async Task RunningWasmTask_UserBecomesActive_IsPausedWithoutLosingWorkAndCompletesWhenIdle()
    {
        var (node, user, _) = await StartAsync(new() { ["ACTIVE_MAX_CPU_PERCENT"] = "1" });
        await using var _ = node;
        var taskId = await SubmitAcceptedAsync(node, Compute(CountingModule, "count", [Count], timeout: 600));
        await WaitStatusAsync(node, taskId, s => s["progress"]!.GetValue<double>() > 0, "first progress");

        await SetUserAsync(node, user, active: true);
        await ResourcesApiTests.WaitUntilAsync(() => Holding(node, taskId));
        var paused = await node.Client.GetJsonAsync($"/api/tasks/{taskId}");
        await Task.Delay(300);
        var stillPaused = await node.Client.GetJsonAsync($"/api/tasks/{taskId}");
        var resources = await node.Client.GetJsonAsync("/api/resources/status");
        var waiting = await SubmitAcceptedAsync(node, """{"type":"script","requirements":{"cpu":0.01},"data":{"action":"complete","value":7}}""");
        var waitingStatus = await WaitStatusAsync(node, waiting, s => s["waitingFor"] is not null, "waiting reason");
        await SetUserAsync(node, user, active: false);
        var final = await node.Client.WaitFinalAsync(taskId, Timeouts.Long);
        var result = await node.Client.GetJsonAsync($"/api/tasks/{taskId}/result");
        var other = await node.Client.WaitFinalAsync(waiting);

        Assert.Equal("running", paused["state"]!.GetValue<string>());
        Assert.True(paused["paused"]!.GetValue<bool>());
        Assert.Contains("the machine's user is active", paused["pauseReason"]!.GetValue<string>());
        Assert.Equal(paused["progress"]!.GetValue<double>(), stillPaused["progress"]!.GetValue<double>());
        Assert.True(paused["progress"]!.GetValue<double>() < 1);
        Assert.True(resources["userActive"]!.GetValue<bool>());
        Assert.Equal("active", resources["limitsInForce"]!.GetValue<string>());
        Assert.Equal(taskId, resources["paused"]![0]!["taskId"]!.GetValue<string>());
        Assert.True(resources["reserved"]!["cpu"]!.GetValue<double>() > resources["allowed"]!["cpu"]!.GetValue<double>());
        Assert.Equal("resources", waitingStatus["waitingFor"]!["reason"]!.GetValue<string>());
        Assert.Equal("active", waitingStatus["waitingFor"]!["limits"]!.GetValue<string>());
        Assert.Equal("completed", final["state"]!.GetValue<string>());
        Assert.False(final["paused"]!.GetValue<bool>());
        Assert.Equal(Count, result["result"]!["returns"]![0]!.GetValue<long>());
        Assert.Equal("completed", other["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task PausedWasmTask_PastItsOriginalDeadline_KeepsRunningTimeAndTimesOutAfterResuming()
    {
        var (node, user, _) = await StartAsync(new() { ["ACTIVE_MAX_CPU_PERCENT"] = "1" });
        await using var _ = node;
        var taskId = await SubmitAcceptedAsync(node, Compute(SpinningModule, "spin", [], timeout: 1));
        await WaitStatusAsync(node, taskId, s => s["state"]!.GetValue<string>() == "running", "start");
        var startedAt = DateTime.UtcNow;

        await SetUserAsync(node, user, active: true);
        await ResourcesApiTests.WaitUntilAsync(() => Holding(node, taskId));
        // Past the 1 s timeout and the runtime's 2 s grace after it, counted from the start.
        await Task.Delay(startedAt.AddSeconds(3.5) - DateTime.UtcNow);
        var afterDeadline = await node.Client.GetJsonAsync($"/api/tasks/{taskId}");
        await SetUserAsync(node, user, active: false);
        var final = await node.Client.WaitFinalAsync(taskId, Timeouts.Long);

        Assert.Equal("running", afterDeadline["state"]!.GetValue<string>());
        Assert.True(afterDeadline["paused"]!.GetValue<bool>());
        Assert.Equal("timed_out", final["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task RunOnlyWhenIdle_UserActive_RefusesWith503AndStartsNothingUntilIdle()
    {
        var (node, user, script) = await StartAsync(new() { ["RUN_ONLY_WHEN_IDLE"] = "true", ["MAX_CONCURRENT_TASKS"] = "1" });
        await using var _ = node;
        var first = await SubmitAcceptedAsync(node, """{"type":"script","data":{"action":"gate","gate":"first"}}""");
        var second = await SubmitAcceptedAsync(node, """{"type":"script","data":{"action":"complete","value":2}}""");
        await ResourcesApiTests.WaitUntilAsync(() => script.Started.Contains(first));

        await SetUserAsync(node, user, active: true);
        using var content = new StringContent("""{"type":"script","data":{"action":"complete","value":3}}""", System.Text.Encoding.UTF8, "application/json");
        var refused = await node.Client.PostAsync("/api/tasks/execute", content, Timeouts.Token());
        var refusal = await refused.Content.ReadAsStringAsync();
        var ready = await node.Client.GetAsync("/health/ready", Timeouts.Token());
        var readyBody = await ready.Content.ReadAsStringAsync();
        var builtinRunning = await node.Client.GetJsonAsync($"/api/tasks/{first}");
        script.Open("first");
        await node.Client.WaitFinalAsync(first);
        await Task.Delay(300);
        var queued = await node.Client.GetJsonAsync($"/api/tasks/{second}");
        await SetUserAsync(node, user, active: false);
        var completed = await node.Client.WaitFinalAsync(second);
        var accepted = await node.Client.SubmitAsync("""{"type":"script","data":{"action":"complete","value":4}}""");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Contains("RUN_ONLY_WHEN_IDLE", refusal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("RUN_ONLY_WHEN_IDLE", readyBody);
        Assert.False(builtinRunning["paused"]!.GetValue<bool>());
        Assert.Equal("queued", queued["state"]!.GetValue<string>());
        Assert.Equal("user_active", queued["waitingFor"]!["reason"]!.GetValue<string>());
        Assert.Equal("waiting for the machine's user to be idle (RUN_ONLY_WHEN_IDLE)", queued["waitingFor"]!["detail"]!.GetValue<string>());
        Assert.Equal("completed", completed["state"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Accepted, accepted.Status);
    }

    [Fact]
    public async Task RunOnlyWhenIdle_RunningWasmTask_IsPausedWhileTheUserIsActive()
    {
        var (node, user, _) = await StartAsync(new() { ["RUN_ONLY_WHEN_IDLE"] = "true" });
        await using var _ = node;
        var taskId = await SubmitAcceptedAsync(node, Compute(SpinningModule, "spin", [], timeout: 600, cpu: 0.01));
        await WaitStatusAsync(node, taskId, s => s["state"]!.GetValue<string>() == "running", "start");

        await SetUserAsync(node, user, active: true);
        await ResourcesApiTests.WaitUntilAsync(() => Holding(node, taskId));
        var paused = await node.Client.GetJsonAsync($"/api/tasks/{taskId}");
        await SetUserAsync(node, user, active: false);
        await ResourcesApiTests.WaitUntilAsync(() => !node.Service<TaskEngine>().IsPaused(taskId));
        await node.Client.DeleteAsync($"/api/tasks/{taskId}", Timeouts.Token());
        var final = await node.Client.WaitFinalAsync(taskId);

        Assert.True(paused["paused"]!.GetValue<bool>());
        Assert.Contains("RUN_ONLY_WHEN_IDLE", paused["pauseReason"]!.GetValue<string>());
        Assert.Equal("cancelled", final["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task PausedWasmTask_Cancelled_EndsCancelled()
    {
        var (node, user, _) = await StartAsync(new() { ["ACTIVE_MAX_CPU_PERCENT"] = "1" });
        await using var _ = node;
        var taskId = await SubmitAcceptedAsync(node, Compute(SpinningModule, "spin", [], timeout: 600));
        await WaitStatusAsync(node, taskId, s => s["state"]!.GetValue<string>() == "running", "start");
        await SetUserAsync(node, user, active: true);
        await ResourcesApiTests.WaitUntilAsync(() => Holding(node, taskId));

        var cancel = await node.Client.DeleteAsync($"/api/tasks/{taskId}", Timeouts.Token());
        var final = await node.Client.WaitFinalAsync(taskId);

        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        Assert.Equal("cancelled", final["state"]!.GetValue<string>());
        Assert.Empty(node.Service<IResourceLedger>().Reservations);
    }

    [Fact]
    public async Task LimitsAndStatus_ShowBothLimitSetsAndTheOneInForce()
    {
        var (node, user, _) = await StartAsync(new() { ["MAX_MEMORY_GB"] = "4", ["ACTIVE_MAX_MEMORY_GB"] = "1", ["ACTIVE_MAX_CPU_PERCENT"] = "50" });
        await using var _ = node;

        var idleLimits = await node.Client.GetJsonAsync("/api/resources/limits");
        var idleStatus = await node.Client.GetJsonAsync("/api/resources/status");
        await SetUserAsync(node, user, active: true);
        var activeLimits = await node.Client.GetJsonAsync("/api/resources/limits");
        var activeStatus = await node.Client.GetJsonAsync("/api/resources/status");

        Assert.Equal(4096, idleLimits["idleLimits"]!["memoryMB"]!.GetValue<long>());
        Assert.Equal(1024, idleLimits["activeLimits"]!["memoryMB"]!.GetValue<long>());
        Assert.Equal(Math.Round(Environment.ProcessorCount * 0.5, 2), idleLimits["activeLimits"]!["cpu"]!.GetValue<double>(), 3);
        Assert.Equal("idle", idleLimits["limitsInForce"]!.GetValue<string>());
        Assert.Equal(4096, idleLimits["allowed"]!["memoryMB"]!.GetValue<long>());
        Assert.Equal(1, idleLimits["settings"]!["activeMaxMemoryGb"]!.GetValue<double>());
        Assert.False(idleStatus["userActive"]!.GetValue<bool>());
        Assert.Equal(3600, idleStatus["idleFor"]!.GetValue<double>(), 0);
        Assert.Equal("active", activeLimits["limitsInForce"]!.GetValue<string>());
        Assert.Equal(1024, activeLimits["allowed"]!["memoryMB"]!.GetValue<long>());
        Assert.True(activeStatus["userActive"]!.GetValue<bool>());
        Assert.Equal(1024, activeStatus["allowed"]!["memoryMB"]!.GetValue<long>());
        Assert.Empty(activeStatus["paused"]!.AsArray());
    }

    [Fact]
    public async Task Submit_FitsIdleLimitsButNotActive_IsAcceptedAndWaitsForTheIdleLimits()
    {
        var (node, user, _) = await StartAsync(new() { ["MAX_MEMORY_GB"] = "4", ["ACTIVE_MAX_MEMORY_GB"] = "1" });
        await using var _ = node;
        await SetUserAsync(node, user, active: true);

        var taskId = await SubmitAcceptedAsync(node, """{"type":"script","requirements":{"memoryMB":2048},"data":{"action":"complete","value":1}}""");
        var waiting = await WaitStatusAsync(node, taskId, s => s["waitingFor"] is not null, "waiting reason");
        await SetUserAsync(node, user, active: false);
        var final = await node.Client.WaitFinalAsync(taskId);

        Assert.Equal("memoryMB", waiting["waitingFor"]!["resource"]!.GetValue<string>());
        Assert.Contains("active limits", waiting["waitingFor"]!["detail"]!.GetValue<string>());
        Assert.Equal("completed", final["state"]!.GetValue<string>());
    }
}
