using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Regional;
using Tenzro.Node.Networking.Regional;
using Tenzro.Node.DevNetwork;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Regional;

/// <summary>The regional link against a test regional node over real WebSockets on loopback.</summary>
[Trait("Suite", "regional")]
public sealed class RegionalLinkTests
{
    [Fact]
    public async Task Join_UrlWithoutPath_JoinsAtWsWithSignedJoinAndNetworkStateAck()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url, new Dictionary<string, string?> { ["TOKEN_BALANCE"] = "12", ["REGION"] = "us-east" });
        var peerId = node.Service<NodeIdentity>().PeerId;

        var status = await node.Client.WaitForRegionalStateAsync("joined");
        var join = await regional.WaitForAsync(m => m.Type == "join" && m.PeerId == peerId, "join");
        var network = await node.Client.GetJsonAsync("/api/network/status");

        Assert.Equal(peerId, status["peerId"]!.GetValue<string>());
        Assert.Equal($"ws://127.0.0.1:{regional.Port}/ws", status["regional"]!["url"]!.GetValue<string>());
        Assert.Equal("individual", join.Message["nodeType"]!.GetValue<string>());
        Assert.Equal("inference", join.Message["nodeTier"]!.GetValue<string>());
        Assert.Equal("us-east", join.Message["region"]!.GetValue<string>());
        Assert.Equal(12, join.Message["tokenBalance"]!.GetValue<double>());
        var verdict = SignedEnvelope.Verify(Encoding.UTF8.GetBytes(join.Raw), 1 << 20, DateTimeOffset.UtcNow, node.Service<NodeIdentity>().PublicKey);
        Assert.True(verdict.IsValid, verdict.Reason);
        Assert.Equal(0, regional.FirstFrameViolations);
        Assert.True(network["regional"]!["lastJoinRoundTripMs"]!.GetValue<double>() >= 0);
        Assert.Contains(network["peers"]!.AsArray(), p => p!["peerId"]!.GetValue<string>() == DevRegionalNode.SelfPeerId);
    }

    [Fact]
    public async Task Metrics_JoinedLink_CountsTheLinksOwnBytesBothWays()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url);
        await node.Client.WaitForRegionalStateAsync("joined");

        // The join's bytes are counted once its send completes, which may be just after network_state arrives,
        // and the metrics snapshot is refreshed every METRICS_UPDATE_INTERVAL: poll until both have happened.
        JsonObject metrics;
        JsonArray points;
        var deadline = DateTime.UtcNow + Timeouts.Short;
        while (true)
        {
            metrics = await node.Client.GetJsonAsync("/api/metrics");
            points = metrics["metrics"]?["tenzro.regional.link.io"]?["points"]?.AsArray() ?? [];
            if ((Bytes("transmit") > 0 && Bytes("receive") > 0) || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(20);
        }

        long Bytes(string direction) =>
            points.SingleOrDefault(p => p!["tags"]!["direction"]!.GetValue<string>() == direction)?["value"]?.GetValue<long>() ?? 0;

        Assert.True(Bytes("transmit") > 0, "no bytes sent counted after a join");
        Assert.True(Bytes("receive") > 0, "no bytes received counted after network_state");
        Assert.Equal(1, metrics["metrics"]!["tenzro.regional.link.state"]!["points"]!.AsArray()
            .Single(p => p!["tags"]!["state"]!.GetValue<string>() == "joined")!["value"]!.GetValue<long>());
    }

    [Fact]
    public async Task Start_WithoutRegionalUrl_RunsStandaloneWithStateDisabled()
    {
        await using var node = await TestNode.StartAsync();

        var status = await node.Client.GetJsonAsync("/status");
        var health = await node.Client.GetJsonAsync("/health");
        var reset = await node.Admin.PostAsync("/api/network/reset", null, Timeouts.Token());

        Assert.Equal("disabled", status["regional"]!["state"]!.GetValue<string>());
        Assert.Null(status["regional"]!["url"]);
        Assert.Equal("healthy", health["checks"]!["regional"]!["status"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Conflict, reset.StatusCode);
    }

    [Fact]
    public async Task Heartbeat_AfterTheBenchmarks_CarriesTheCapacityBySpeed()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url, new Dictionary<string, string?> { ["MAX_CPU_PERCENT"] = "50" });
        var peerId = node.Service<NodeIdentity>().PeerId;
        await regional.WaitForAsync(m => m.Type == "node_status" && m.PeerId == peerId, "the first node_status");
        var before = regional.Received().First(m => m.Type == "node_status" && m.PeerId == peerId).Message["status"]!;

        // As the benchmarks publish them: 1e9 integer operations a second on one core, 2e9 on all.
        node.Service<Core.Hardware.HardwareProfiler>().PublishBenchmarks(
            new Core.Hardware.BenchmarkResult(
                new Dictionary<string, Core.Hardware.BenchmarkFigure>
                {
                    ["cpuIntegerSingleCore"] = new(1e9, "ops/s"),
                    ["cpuIntegerAllCores"] = new(2e9, "ops/s"),
                },
                DateTimeOffset.UtcNow),
            cached: false);
        await regional.WaitUntilAsync(() => regional.Received().Any(m => m.Type == "node_status" && m.PeerId == peerId && m.Message["status"]?["capacity"] is not null), "a node_status with capacity");
        var capacity = regional.Received().Last(m => m.Type == "node_status" && m.PeerId == peerId && m.Message["status"]?["capacity"] is not null).Message["status"]!["capacity"]!;
        var usable = (await node.Client.GetJsonAsync("/api/hardware/profile"))["cpu"]!["usableCores"]!.GetValue<double>();
        var allowed = (await node.Client.GetJsonAsync("/api/resources/limits"))["allowed"]!["cpu"]!.GetValue<double>();

        Assert.Null(before["capacity"]);
        Assert.Equal(Math.Round(2e9 * allowed / usable), capacity["cpuOpsPerSecond"]!.GetValue<double>()); // the half the network may reserve
        Assert.Equal(allowed, usable / 2, 2);
        Assert.Equal(1e9, capacity["singleCoreOpsPerSecond"]!.GetValue<double>());
    }

    [Fact]
    public async Task Heartbeat_WhileJoined_SendsFullNodeStatusThatTheRegionalNodeStores()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url, new Dictionary<string, string?> { ["BANDWIDTH_MBPS"] = "250" });
        var peerId = node.Service<NodeIdentity>().PeerId;

        await regional.WaitUntilAsync(() => regional.Received().Count(m => m.Type == "node_status" && m.PeerId == peerId) >= 3, "three node_status messages");
        var heartbeat = regional.Received().Last(m => m.Type == "node_status" && m.PeerId == peerId).Message;
        var status = heartbeat["status"]!.AsObject();
        var stored = regional.StatusOf(peerId);
        var network = await node.Client.GetJsonAsync("/api/network/status");

        foreach (var field in (string[])["peerId", "online", "nodeType", "nodeTier", "region", "connections", "resources", "earnings", "activeTasks", "completedTasks", "lastUpdate"])
        {
            Assert.True(status.ContainsKey(field), $"status.{field} is missing");
        }

        Assert.False(status.ContainsKey("status"));
        var resources = status["resources"]!.AsObject();
        Assert.InRange(resources["cpu"]!.GetValue<double>(), 0, 100);
        Assert.True(resources["memory"]!.GetValue<double>() > 0);
        Assert.True(resources["storage"]!.GetValue<double>() > 0);
        Assert.Equal(250, resources["bandwidth"]!.GetValue<double>());
        Assert.NotNull(resources["timestamp"]);
        Assert.True(status["online"]!.GetValue<bool>());
        Assert.NotNull(heartbeat["signature"]);
        Assert.NotNull(stored);
        Assert.Equal(peerId, network["regional"]!["lastNodeStatus"]!["peerId"]!.GetValue<string>());
    }

    [Fact]
    public async Task StatusRequest_FromRegionalNode_IsAnsweredWithNodeStatus()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url, new Dictionary<string, string?> { ["HEARTBEAT_INTERVAL"] = "600000" });
        var peerId = node.Service<NodeIdentity>().PeerId;
        await regional.WaitForAsync(m => m.Type == "node_status" && m.PeerId == peerId, "the first node_status");

        await regional.SendAsync(peerId, new JsonObject { ["type"] = "status_request" });

        await regional.WaitUntilAsync(() => regional.Received().Count(m => m.Type == "node_status" && m.PeerId == peerId) == 2, "a node_status answering status_request");
    }

    [Fact]
    public async Task Assignment_StoreTask_RunsThroughTheQueueToTaskCompletedAndReward()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url, new Dictionary<string, string?> { ["TOKEN_BALANCE"] = "5" });
        var peerId = node.Service<NodeIdentity>().PeerId;
        await regional.WaitUntilAsync(() => regional.StatusOf(peerId) is not null, "a stored node_status");
        var task = RegionalKit.RegionalTask("task-store-1", "store", "hello world", new JsonObject
        {
            ["minTier"] = "inference", ["minMemory"] = 0.25, ["priority"] = "high", ["estimatedDuration"] = 60, ["maxNodes"] = 5,
        });

        var selected = await regional.AssignAsync(task);
        var completed = await regional.WaitForAsync(m => m.Type == "task_completed" && m.TaskId == "task-store-1", "task_completed");
        var accepted = regional.Received().Single(m => m.Type == "task_accepted" && m.TaskId == "task-store-1");
        var local = await node.Client.GetJsonAsync("/api/tasks/task-store-1");
        var result = await node.Client.GetJsonAsync("/api/tasks/task-store-1/result");
        var status = await node.Client.WaitForJsonAsync("/status", s => s["earnings"]!["total"]!.GetValue<double>() > 0, "the reward in /status");

        Assert.Equal([peerId], selected);
        Assert.True(accepted.Index < completed.Index, "task_accepted must come before task_completed");
        Assert.Contains(regional.Received(), m => m.Type == "task_progress" && m.TaskId == "task-store-1" && m.Message["progress"]?.GetValue<int>() == 100);
        var wire = completed.Message["result"]!.AsObject();
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("hello world"))), wire["sha256"]!.GetValue<string>());
        Assert.Equal(11, wire["size"]!.GetValue<int>());
        Assert.Equal(result["digest"]!.GetValue<string>(), wire["digest"]!.GetValue<string>());
        Assert.Equal("regional", local["origin"]!.GetValue<string>());
        Assert.Equal("high", local["priority"]!.GetValue<string>());
        Assert.Equal(256, local["requirements"]!["memoryMB"]!.GetValue<long>());
        Assert.InRange(local["timeout"]!.GetValue<double>(), 1, 600);
        Assert.Empty(regional.ErrorsSentTo(completed.Connection));
        // The regional node pays the validator's own perNode (90), not the per-copy figure it shows (95).
        Assert.Equal(90, status["earnings"]!["total"]!.GetValue<double>());
        Assert.Equal(95, status["tokenBalance"]!.GetValue<double>());
        Assert.NotNull(status["earnings"]!["lastRewardAt"]);
    }

    [Fact]
    public async Task Assignment_ProcessTaskInRegionalForm_ReturnsTheSum()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url, new Dictionary<string, string?> { ["NODE_TIER"] = "aggregator" });
        var peerId = node.Service<NodeIdentity>().PeerId;
        await regional.WaitUntilAsync(() => regional.StatusOf(peerId) is not null, "a stored node_status");
        var task = RegionalKit.RegionalTask("task-sum-1", "process", new JsonArray(1, 2, 3), new JsonObject
        {
            ["minTier"] = "aggregator", ["priority"] = "high", ["estimatedDuration"] = 60, ["maxNodes"] = 5,
        });
        task["data"]!["config"] = new JsonObject { ["op"] = "sum" };

        await regional.AssignAsync(task);
        var completed = await regional.WaitForAsync(m => m.Type == "task_completed" && m.TaskId == "task-sum-1", "task_completed");

        Assert.Equal(6, completed.Message["result"]!["output"]!.GetValue<double>());
        Assert.Empty(regional.ErrorsSentTo(completed.Connection));
    }

    [Fact]
    public async Task Assignment_UnsupportedType_IsRejectedWithTheReason()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url, new Dictionary<string, string?> { ["NODE_TIER"] = "training" });
        var peerId = node.Service<NodeIdentity>().PeerId;
        await regional.WaitUntilAsync(() => regional.StatusOf(peerId) is not null, "a stored node_status");

        await regional.AssignAsync(RegionalKit.RegionalTask("task-verify-1", "verify", "x", new JsonObject { ["minTier"] = "training", ["estimatedDuration"] = 60, ["maxNodes"] = 1 }));
        var rejected = await regional.WaitForAsync(m => m.Type == "task_rejected" && m.TaskId == "task-verify-1", "task_rejected");

        Assert.Contains("'verify' is not run by this node", rejected.Message["reason"]!.GetValue<string>());
        Assert.DoesNotContain(regional.Received(), m => m.Type == "task_accepted" && m.TaskId == "task-verify-1");
        Assert.Equal(HttpStatusCode.NotFound, (await node.Client.GetAsync("/api/tasks/task-verify-1", Timeouts.Token())).StatusCode);
    }

    [Fact]
    public async Task Assignment_WhileDraining_IsRejectedAsNotTakingTasks()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url);
        var peerId = node.Service<NodeIdentity>().PeerId;
        await regional.WaitUntilAsync(() => regional.StatusOf(peerId) is not null, "a stored node_status");
        (await node.Admin.PostAsync("/api/node/drain", null, Timeouts.Token())).EnsureSuccessStatusCode();

        await regional.AssignAsync(RegionalKit.RegionalTask("task-drain-1", "store", "x"));
        var rejected = await regional.WaitForAsync(m => m.Type == "task_rejected" && m.TaskId == "task-drain-1", "task_rejected");

        Assert.Contains("draining", rejected.Message["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Assignment_TaskIdUsedByDifferentTask_IsRejectedAsAClash()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url);
        var peerId = node.Service<NodeIdentity>().PeerId;
        await regional.WaitUntilAsync(() => regional.StatusOf(peerId) is not null, "a stored node_status");
        var (code, _) = await node.Client.SubmitAsync("""{"taskId":"task-clash-1","type":"store","data":{"content":"local"}}""");
        Assert.Equal(HttpStatusCode.Accepted, code);

        await regional.AssignAsync(RegionalKit.RegionalTask("task-clash-1", "store", "remote"));
        var rejected = await regional.WaitForAsync(m => m.Type == "task_rejected" && m.TaskId == "task-clash-1", "task_rejected");

        Assert.Contains("already used", rejected.Message["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Assignment_RequirementBeyondThisNode_IsRejectedAsNeverFitting()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url);
        var peerId = node.Service<NodeIdentity>().PeerId;
        await node.Client.WaitForRegionalStateAsync("joined");
        var task = RegionalKit.RegionalTask("task-huge-1", "store", "x", new JsonObject { ["minTier"] = "inference", ["minMemory"] = 1_000_000 });

        await regional.SendAssignmentAsync(peerId, task);
        var rejected = await regional.WaitForAsync(m => m.Type == "task_rejected" && m.TaskId == "task-huge-1", "task_rejected");

        Assert.Contains("requirements.memoryMB", rejected.Message["reason"]!.GetValue<string>());
        Assert.Contains("never run here", rejected.Message["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Assignment_ExpiredTask_IsRejectedWithTheValidationError()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url);
        var peerId = node.Service<NodeIdentity>().PeerId;
        await regional.WaitUntilAsync(() => regional.StatusOf(peerId) is not null, "a stored node_status");
        var task = RegionalKit.RegionalTask("task-expired-1", "store", "x");
        task["expiry"] = RegionalKit.Iso(DateTime.UtcNow.AddMinutes(-1));

        await regional.AssignAsync(task);
        var rejected = await regional.WaitForAsync(m => m.Type == "task_rejected" && m.TaskId == "task-expired-1", "task_rejected");

        Assert.Contains("expired", rejected.Message["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Reconnect_RegionalRestartedOnSamePort_RejoinsAndDeliversWhatWasWrittenWhileDownOnce()
    {
        var runtime = new ScriptedRuntime("compute");
        var first = await DevRegionalNode.StartAsync();
        var port = first.Port;
        await using var node = await RegionalKit.StartNodeAsync(first.Url, configure: b => b.Services.AddSingleton<Core.Tasks.ITaskRuntime>(runtime));
        var peerId = node.Service<NodeIdentity>().PeerId;
        DevRegionalNode? second = null;
        try
        {
            // Joined as the regional node sees it (a node_status after the join), not only the join received.
            await first.WaitUntilAsync(() => first.StatusOf(peerId) is not null, "the first join");
            await first.SendAssignmentAsync(peerId, new JsonObject
            {
                ["taskId"] = "task-outbox-1",
                ["type"] = "compute",
                ["data"] = new JsonObject { ["action"] = "gate", ["gate"] = "g1", ["value"] = 7 },
            });
            var accepted = await first.WaitForAsync(m => m.Type == "task_accepted" && m.TaskId == "task-outbox-1", "task_accepted");
            var progress = await first.WaitForAsync(m => m.Type == "task_progress" && m.TaskId == "task-outbox-1", "task_progress while the task runs");
            Assert.Equal(50, progress.Message["progress"]!.GetValue<int>());
            Assert.True(accepted.Index < progress.Index, "task_progress must follow task_accepted");

            await first.DisposeAsync();
            await node.Client.WaitForJsonAsync("/status", s => s["regional"]!["state"]!.GetValue<string>() != "joined", "the link to notice the regional node is gone");
            runtime.Open("g1");
            await node.Client.WaitForJsonAsync("/api/network/status", s => s["regional"]!["outboxDepth"]!.GetValue<long>() >= 2, "the final report to wait in the outbox");

            second = await DevRegionalNode.StartAsync(port: port);
            var completed = await second.WaitForAsync(m => m.Type == "task_completed" && m.TaskId == "task-outbox-1", "task_completed after the rejoin");
            await second.WaitUntilAsync(() => second.Received().Count(m => m.Type == "node_status" && m.Index > completed.Index) >= 2, "heartbeats after the delivery");
            var network = await node.Client.WaitForJsonAsync(
                "/api/network/status",
                s => s["regional"]!["recentErrors"]!.AsArray().Any(e => e!["taskId"]?.GetValue<string>() == "task-outbox-1"),
                "the regional node's answer recorded");
            var outbox = await node.Client.GetJsonAsync("/api/network/outbox/task-outbox-1");
            var received = second.Received();

            Assert.Equal("join", received[0].Type);
            Assert.Single(received, m => m.Type == "task_completed" && m.TaskId == "task-outbox-1");
            Assert.Equal(7, completed.Message["result"]!["value"]!.GetValue<int>());
            Assert.Equal(0, network["regional"]!["outboxDepth"]!.GetValue<long>());
            Assert.True(network["regional"]!["reconnects"]!.GetValue<long>() >= 1);
            var error = network["regional"]!["recentErrors"]!.AsArray().First(e => e!["taskId"]?.GetValue<string>() == "task-outbox-1")!;
            Assert.Equal("Task completion failed", error["error"]!.GetValue<string>());
            Assert.Contains(outbox["messages"]!.AsArray(), m => m!["type"]!.GetValue<string>() == "task_completed" && m["error"]?.GetValue<string>() == "Task completion failed");
        }
        finally
        {
            if (second is not null)
            {
                await second.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Reconnect_MaxAttemptsExceeded_ReportsFailedAndDegradedAndKeepsRetrying()
    {
        var port = RegionalKit.FreePort();
        var url = new Uri($"ws://127.0.0.1:{port}");
        await using var node = await RegionalKit.StartNodeAsync(url, new Dictionary<string, string?> { ["MAX_RECONNECT_ATTEMPTS"] = "2" });

        var failed = await node.Client.WaitForRegionalStateAsync("failed");
        var health = await node.Client.GetAsync("/health", Timeouts.Token());
        var healthBody = await TaskApi.ReadAsync(health);
        var reconnects = failed["regional"]!["reconnects"]!.GetValue<long>();
        await node.Client.WaitForJsonAsync("/status", s => s["regional"]!["reconnects"]!.GetValue<long>() > reconnects + 1, "more reconnect attempts");

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("degraded", healthBody!["status"]!.GetValue<string>());
        Assert.Equal("degraded", healthBody["checks"]!["regional"]!["status"]!.GetValue<string>());
        Assert.Equal("failed", (await node.Client.GetJsonAsync("/status"))["regional"]!["state"]!.GetValue<string>());

        await using var regional = await DevRegionalNode.StartAsync(port: port);
        await node.Client.WaitForRegionalStateAsync("joined");
        var healthy = await node.Client.GetJsonAsync("/health");
        Assert.Equal("healthy", healthy["checks"]!["regional"]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task ResetConnections_WhileJoined_ClosesAndRejoinsAtOnce()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        // A long reconnect interval: only a reset that skips the backoff rejoins within the bounded wait.
        await using var node = await RegionalKit.StartNodeAsync(regional.Url, new Dictionary<string, string?> { ["RECONNECT_INTERVAL"] = "60000", ["RECONNECT_MAX_INTERVAL"] = "60000" });
        var peerId = node.Service<NodeIdentity>().PeerId;
        await node.Client.WaitForRegionalStateAsync("joined");

        var (exit, _) = await RunCliAsync("reset-connections", "--url", node.BaseAddress.ToString(), "--api-key-file", Path.Combine(node.DataDirectory, "admin.token"));
        await regional.WaitUntilAsync(() => regional.Received().Count(m => m.Type == "join" && m.PeerId == peerId) == 2, "a second join");
        var status = await node.Client.WaitForJsonAsync("/status", s => s["regional"]!["state"]!.GetValue<string>() == "joined" && s["regional"]!["reconnects"]!.GetValue<long>() == 1, "joined again");

        Assert.Equal(0, exit);
        Assert.Equal(1, status["regional"]!["reconnects"]!.GetValue<long>());
    }

    [Fact]
    public async Task Join_AnsweredWithError_IsAFailedJoinAndIsRetried()
    {
        await using var regional = await DevRegionalNode.StartAsync(new DevRegionalOptions { Verifying = true });
        using var other = NodeIdentity.CreateEphemeral();
        regional.BindKey("node-bound", other.PublicKey);
        await using var node = await RegionalKit.StartNodeAsync(regional.Url, new Dictionary<string, string?> { ["DEVICE_ID"] = "node-bound", ["MAX_RECONNECT_ATTEMPTS"] = "2" });

        var status = await node.Client.WaitForJsonAsync("/api/network/status", s => s["regional"]!["consecutiveFailures"]!.GetValue<int>() >= 2, "failed joins");
        regional.BindKey("node-bound", null);
        await node.Client.WaitForRegionalStateAsync("joined");

        Assert.Contains("Invalid signature", status["regional"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Join_NotAcknowledgedInTime_IsAFailedJoin()
    {
        await using var regional = await DevRegionalNode.StartAsync(new DevRegionalOptions { AnswerJoin = false });
        await using var node = await RegionalKit.StartNodeAsync(
            regional.Url,
            new Dictionary<string, string?> { ["MAX_RECONNECT_ATTEMPTS"] = "1" },
            b => b.Services.AddSingleton(new RegionalLinkTimings { JoinTimeout = TimeSpan.FromMilliseconds(300) }));

        var status = await node.Client.WaitForRegionalStateAsync("failed");

        Assert.Contains("no network_state", status["regional"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Verifying_RegionalNodeChecksSignatures_AcceptsOursAndRejectsATamperedCopy()
    {
        await using var regional = await DevRegionalNode.StartAsync(new DevRegionalOptions { Verifying = true });
        await using var node = await RegionalKit.StartNodeAsync(regional.Url);
        var identity = node.Service<NodeIdentity>();
        var peerId = identity.PeerId;
        await regional.WaitUntilAsync(() => regional.StatusOf(peerId) is not null, "a node_status accepted by the verifying regional node");
        var joinConnection = regional.Received().First(m => m.Type == "join" && m.PeerId == peerId).Connection;

        var tampered = (JsonObject)regional.Received().Last(m => m.Type == "node_status" && m.PeerId == peerId).Message.DeepClone();
        tampered["status"]!["earnings"] = 999999;
        await using var attacker = await RawRegionalClient.ConnectAsync(regional.Url);
        await attacker.SendAsync(tampered);
        var error = await attacker.ReceiveAsync("error");

        Assert.Equal(identity.PublicKey, regional.BoundKey(peerId));
        Assert.Empty(regional.ErrorsSentTo(joinConnection));
        Assert.Equal("Invalid signature", error["error"]!.GetValue<string>());
        Assert.NotEqual(999999, regional.StatusOf(peerId)!["earnings"]!.GetValue<double>());
    }

    [Fact]
    public async Task SignedFrameFromRegionalNode_BadSignature_IsDroppedAndTheFirstValidOnePinsTheKey()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url);
        var peerId = node.Service<NodeIdentity>().PeerId;
        await node.Client.WaitForRegionalStateAsync("joined");
        using var regionalIdentity = NodeIdentity.CreateEphemeral("regional-signer");
        var unpinned = await node.Client.GetJsonAsync("/api/network/status");

        var forged = SignedEnvelope.Sign(Probe("forged"), regionalIdentity, DateTimeOffset.UtcNow);
        forged["error"] = "forged, changed after signing";
        await regional.SendAsync(peerId, forged);
        await regional.SendAsync(peerId, SignedEnvelope.Sign(Probe("signed"), regionalIdentity, DateTimeOffset.UtcNow));
        await regional.SendAsync(peerId, Probe("unsigned after pinning"));
        await regional.SendAsync(peerId, SignedEnvelope.Sign(Probe("signed again"), regionalIdentity, DateTimeOffset.UtcNow));
        var network = await WaitForProbeAsync(node, "signed again");

        Assert.Contains(unpinned["regional"]!["warnings"]!.AsArray(), w => w!.GetValue<string>().StartsWith("unpinned", StringComparison.Ordinal));
        var errors = network["regional"]!["recentErrors"]!.AsArray().Select(e => e!["error"]!.GetValue<string>()).ToList();
        Assert.Equal(["signed", "signed again"], errors);
        Assert.Equal(1, network["regional"]!["droppedFrames"]!["badSignature"]!.GetValue<long>());
        Assert.Equal(1, network["regional"]!["droppedFrames"]!["unsigned"]!.GetValue<long>());
        Assert.Equal(regionalIdentity.PublicKeyBase64, network["regional"]!["regionalKey"]!["publicKey"]!.GetValue<string>());
        Assert.Equal("first signed frame", network["regional"]!["regionalKey"]!["by"]!.GetValue<string>());
        Assert.Empty(network["regional"]!["warnings"]!.AsArray());
        Assert.Equal("joined", network["regional"]!["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task RegionalNodeKey_Set_AcceptsOnlyFramesItSigned()
    {
        using var regionalIdentity = NodeIdentity.CreateEphemeral("regional-signer");
        using var other = NodeIdentity.CreateEphemeral("other-signer");
        await using var regional = await DevRegionalNode.StartAsync(new DevRegionalOptions { Signer = regionalIdentity });
        await using var node = await RegionalKit.StartNodeAsync(regional.Url, new Dictionary<string, string?> { ["REGIONAL_NODE_KEY"] = regionalIdentity.PublicKeyBase64 });
        var peerId = node.Service<NodeIdentity>().PeerId;
        await node.Client.WaitForRegionalStateAsync("joined");

        await regional.SendAsync(peerId, Probe("unsigned"));
        await regional.SendAsync(peerId, SignedEnvelope.Sign(Probe("another key"), other, DateTimeOffset.UtcNow));
        await regional.SendAsync(peerId, SignedEnvelope.Sign(Probe("pinned key"), regionalIdentity, DateTimeOffset.UtcNow));
        var network = await WaitForProbeAsync(node, "pinned key");

        Assert.Equal(["pinned key"], network["regional"]!["recentErrors"]!.AsArray().Select(e => e!["error"]!.GetValue<string>()));
        Assert.Equal(1, network["regional"]!["droppedFrames"]!["unsigned"]!.GetValue<long>());
        Assert.Equal(1, network["regional"]!["droppedFrames"]!["badSignature"]!.GetValue<long>());
        Assert.Equal("REGIONAL_NODE_KEY", network["regional"]!["regionalKey"]!["by"]!.GetValue<string>());
    }

    [Fact]
    public async Task Reward_ForgedRepeatedOrOverTheCap_IsNotCredited()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url);
        var peerId = node.Service<NodeIdentity>().PeerId;
        await regional.WaitUntilAsync(() => regional.StatusOf(peerId) is not null, "a stored node_status");
        await node.Admin.PostAsync("/api/tasks/execute", new StringContent("""{"taskId":"api-task","type":"store","data":{"content":"mine"}}""", Encoding.UTF8, "application/json"), Timeouts.Token());
        await regional.AssignAsync(RegionalKit.RegionalTask("task-paid", "store", "paid once"));
        var paid = await node.Client.WaitForJsonAsync("/status", s => s["earnings"]!["total"]!.GetValue<double>() > 0, "the reward of the completed task");

        await regional.SendRewardAsync(peerId, "task-paid", 90);
        await regional.SendRewardAsync(peerId, "no-such-task", 1_000_000);
        await regional.SendRewardAsync(peerId, "api-task", 5);
        await regional.SendAsync(peerId, Probe("after the rewards"));
        var network = await WaitForProbeAsync(node, "after the rewards");
        var status = await node.Client.GetJsonAsync("/status");

        Assert.Equal(paid["earnings"]!["total"]!.GetValue<double>(), status["earnings"]!["total"]!.GetValue<double>());
        Assert.Equal(1, network["earnings"]!["rewards"]!.GetValue<long>());
        Assert.Equal(3, network["regional"]!["refusedRewards"]!.GetValue<long>());
    }

    [Fact]
    public async Task RegionalAggregate_OfAnApiTask_CannotReadIt()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url);
        var peerId = node.Service<NodeIdentity>().PeerId;
        await regional.WaitUntilAsync(() => regional.StatusOf(peerId) is not null, "a stored node_status");
        var (_, owned) = await node.Client.SubmitAsync("""{"taskId":"owners-secret","type":"store","data":{"content":"the owner's secret"}}""", "?wait=5s");
        var task = RegionalKit.RegionalTask("task-aggregate", "aggregate", null);
        task["data"] = new JsonObject { ["taskIds"] = new JsonArray("owners-secret"), ["strategy"] = "concat" };

        await regional.SendAssignmentAsync(peerId, task);
        var outcome = await regional.WaitForAsync(m => m.TaskId == "task-aggregate" && m.Type is "task_failed" or "task_completed" or "task_rejected", "the aggregate's outcome");

        Assert.Equal("completed", owned!["state"]!.GetValue<string>());
        Assert.Equal("task_failed", outcome.Type);
        Assert.Contains("no task with this id is known", outcome.Message["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain("owners-secret\",\"result", outcome.Raw, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RegionalTask_OverTheQueuedByteBudget_IsRejected()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url, new Dictionary<string, string?> { ["QUOTA_QUEUED_BYTES"] = "2048" });
        var peerId = node.Service<NodeIdentity>().PeerId;
        await regional.WaitUntilAsync(() => regional.StatusOf(peerId) is not null, "a stored node_status");

        await regional.SendAssignmentAsync(peerId, RegionalKit.RegionalTask("task-too-big", "store", new string('z', 4096)));
        var rejected = await regional.WaitForAsync(m => m.TaskId == "task-too-big" && m.Type is "task_rejected" or "task_accepted", "the answer to the big task");

        Assert.Equal("task_rejected", rejected.Type);
        Assert.Contains("QUOTA_QUEUED_BYTES", rejected.Message["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RegionalTask_OfATypeOutsideTheProtocol_IsRejectedThoughTheNodeRunsIt()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url);
        var peerId = node.Service<NodeIdentity>().PeerId;
        await regional.WaitUntilAsync(() => regional.StatusOf(peerId) is not null, "a stored node_status");

        await regional.SendAssignmentAsync(peerId, RegionalKit.RegionalTask("task-inference", "inference", "x"));
        var answer = await regional.WaitForAsync(m => m.TaskId == "task-inference" && m.Type is "task_rejected" or "task_accepted", "the answer to the inference task");

        Assert.Equal("task_rejected", answer.Type);
        Assert.Contains("not a task type of the regional protocol", answer.Message["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    /// <summary>An <c>error</c> frame: once the node accepts it, its text shows in recentErrors, in the order frames were handled.</summary>
    private static JsonObject Probe(string text) => new() { ["type"] = "error", ["error"] = text };

    private static Task<JsonObject> WaitForProbeAsync(Tenzro.Node.Tests.Support.TestNode node, string text) =>
        node.Client.WaitForJsonAsync("/api/network/status", s => s["regional"]!["recentErrors"]!.AsArray().Any(e => e!["error"]!.GetValue<string>() == text), $"the probe '{text}'");

    [Fact]
    public async Task Frames_MalformedAndOversized_AreDroppedAndTheLinkStaysUp()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url, new Dictionary<string, string?> { ["MAX_MESSAGE_SIZE"] = "65536" });
        var peerId = node.Service<NodeIdentity>().PeerId;
        await node.Client.WaitForRegionalStateAsync("joined");

        await regional.SendRawAsync(peerId, "this is not json {");
        await regional.SendRawAsync(peerId, "[1,2,3]");
        await regional.SendAsync(peerId, new JsonObject { ["type"] = "error", ["error"] = "big", ["padding"] = new string('x', 100_000) });
        await regional.SendAsync(peerId, Probe("small"));
        var network = await WaitForProbeAsync(node, "small");

        Assert.DoesNotContain(network["regional"]!["recentErrors"]!.AsArray(), e => e!["error"]!.GetValue<string>() == "big");
        Assert.Equal(2, network["regional"]!["droppedFrames"]!["malformed"]!.GetValue<long>());
        Assert.Equal(1, network["regional"]!["droppedFrames"]!["oversized"]!.GetValue<long>());
        Assert.Single(regional.Received(), m => m.Type == "join" && m.PeerId == peerId);
        Assert.Equal("joined", network["regional"]!["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task Frames_DuplicateKeysOrALoneSurrogate_AreDroppedAndTheNodeKeepsRunning()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url);
        var peerId = node.Service<NodeIdentity>().PeerId;
        await node.Client.WaitForRegionalStateAsync("joined");

        await regional.SendRawAsync(peerId, """{"type":"status","type":"status"}""");
        await regional.SendRawAsync(peerId, """{"type":"reward_distribution","peerId":"\ud800","publicKey":"x","signature":"y","reward":9}""");
        await regional.SendAsync(peerId, Probe("after"));
        var network = await WaitForProbeAsync(node, "after");

        Assert.True(network["regional"]!["droppedFrames"]!["malformed"]!.GetValue<long>() + network["regional"]!["droppedFrames"]!["badSignature"]!.GetValue<long>() >= 2);
        Assert.Equal("joined", network["regional"]!["state"]!.GetValue<string>());
        Assert.False(node.Service<Microsoft.Extensions.Hosting.IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested);
    }

    [Fact]
    public async Task Join_NetworkStateWithAnUnreadablePeer_JoinsAndListsTheOthers()
    {
        await using var regional = await DevRegionalNode.StartAsync(new DevRegionalOptions { AnswerJoin = false });
        await using var node = await RegionalKit.StartNodeAsync(regional.Url);
        var peerId = node.Service<NodeIdentity>().PeerId;
        await regional.WaitForAsync(m => m.Type == "join" && m.PeerId == peerId, "the join");

        await regional.SendRawAsync(peerId, """
            {"type":"network_state","peers":[
              {"peerId":"\ud800","nodeType":"individual","nodeTier":"inference","region":"us-east","tokenBalance":0,"connected":true,"lastSeen":"2026-01-01T00:00:00.000Z"},
              {"peerId":"node-ok","nodeType":"individual","nodeTier":"inference","region":"us-east","tokenBalance":0,"connected":true,"lastSeen":"2026-01-01T00:00:00.000Z"}],
             "regions":[],"activeTasks":0,"completedTasks":0,"totalRewardsDistributed":0,"timestamp":"2026-01-01T00:00:00.000Z"}
            """);
        await node.Client.WaitForRegionalStateAsync("joined");
        var network = await node.Client.GetJsonAsync("/api/network/status");

        Assert.Contains(network["peers"]!.AsArray(), p => p!["peerId"]!.GetValue<string>() == "node-ok");
    }

    [Fact]
    public async Task Wss_SelfSignedCertificateInRegionalCaCert_Joins()
    {
        var (certificate, pem) = RegionalKit.SelfSignedCertificate();
        using (certificate)
        {
            var caPath = Path.Combine(Path.GetTempPath(), $"tenzro-ca-{Guid.NewGuid():N}.pem");
            await File.WriteAllTextAsync(caPath, pem);
            try
            {
                await using var regional = await DevRegionalNode.StartAsync(new DevRegionalOptions { Certificate = certificate });
                await using var node = await RegionalKit.StartNodeAsync(regional.Url, new Dictionary<string, string?> { ["REGIONAL_CA_CERT"] = caPath });

                var status = await node.Client.WaitForRegionalStateAsync("joined");

                Assert.StartsWith("wss://127.0.0.1:", status["regional"]!["url"]!.GetValue<string>());
            }
            finally
            {
                File.Delete(caPath);
            }
        }
    }

    [Fact]
    public async Task Wss_SelfSignedCertificateNotTrusted_FailsTheLink()
    {
        var (certificate, _) = RegionalKit.SelfSignedCertificate();
        using (certificate)
        {
            await using var regional = await DevRegionalNode.StartAsync(new DevRegionalOptions { Certificate = certificate });
            await using var node = await RegionalKit.StartNodeAsync(regional.Url, new Dictionary<string, string?> { ["MAX_RECONNECT_ATTEMPTS"] = "1" });

            var status = await node.Client.WaitForRegionalStateAsync("failed");

            Assert.Contains("cannot connect", status["regional"]!["reason"]!.GetValue<string>());
            Assert.Empty(regional.Received());
        }
    }

    [Fact]
    public async Task InsecureWs_ToHostThatIsNotLoopback_IsRefusedAndTheNodeStillServes()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["REGIONAL_NODE_URL"] = "ws://regional.example.invalid:9000" });

        var status = await node.Client.WaitForRegionalStateAsync("failed");
        var health = await node.Client.GetJsonAsync("/health");
        var (code, _) = await node.Client.SubmitAsync("""{"type":"store","data":{"content":"still serving"}}""");

        Assert.Contains("ALLOW_INSECURE_TRANSPORT", status["regional"]!["reason"]!.GetValue<string>());
        Assert.Equal("degraded", health["checks"]!["regional"]!["status"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Accepted, code);
    }

    [Fact]
    public async Task Peers_JoinedAndLeftInTheRegion_AreListedAtNetworkStatus()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url);
        await node.Client.WaitForRegionalStateAsync("joined");

        await using (var other = await RawRegionalClient.ConnectAsync(regional.Url))
        {
            await other.SendAsync(new JsonObject { ["type"] = "join", ["peerId"] = "peer-other", ["nodeType"] = "individual", ["nodeTier"] = "inference", ["region"] = "us-east" });
            await other.ReceiveAsync("network_state");
            await node.Client.WaitForJsonAsync("/api/network/status", s => s["peers"]!.AsArray().Any(p => p!["peerId"]!.GetValue<string>() == "peer-other"), "peer-other listed");
            await other.SendAsync(new JsonObject { ["type"] = "leave", ["peerId"] = "peer-other" });
        }

        await node.Client.WaitForJsonAsync("/api/network/status", s => s["peers"]!.AsArray().All(p => p!["peerId"]!.GetValue<string>() != "peer-other"), "peer-other gone");
    }

    [Fact]
    public async Task Peers_KnownOnlyFromTheRegionalNode_AreListedAtApiPeersWithoutLink()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url);
        await node.Client.WaitForRegionalStateAsync("joined");

        await using (var other = await RawRegionalClient.ConnectAsync(regional.Url))
        {
            await other.SendAsync(new JsonObject { ["type"] = "join", ["peerId"] = "peer-other", ["nodeType"] = "individual", ["nodeTier"] = "training", ["region"] = "us-east" });
            await other.ReceiveAsync("network_state");
            var peers = await node.Client.WaitForJsonAsync("/api/peers", s => s["peers"]!.AsArray().Any(p => p!["id"]!.GetValue<string>() == "peer-other"), "peer-other listed at /api/peers");
            var listed = peers["peers"]!.AsArray().Single(p => p!["id"]!.GetValue<string>() == "peer-other")!;
            Assert.Equal(["regional"], listed["foundBy"]!.AsArray().Select(f => f!.GetValue<string>()));
            Assert.Equal("none", listed["link"]!.GetValue<string>());
            Assert.Equal("training", listed["tier"]!.GetValue<string>());
            Assert.Equal("us-east", listed["region"]!.GetValue<string>());
            await other.SendAsync(new JsonObject { ["type"] = "leave", ["peerId"] = "peer-other" });
        }

        await node.Client.WaitForJsonAsync("/api/peers", s => s["peers"]!.AsArray().All(p => p!["id"]!.GetValue<string>() != "peer-other"), "peer-other gone from /api/peers");
    }

    [Fact]
    public async Task Stop_WhileJoined_SendsLeaveBeforeClosing()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        var node = await RegionalKit.StartNodeAsync(regional.Url);
        var peerId = node.Service<NodeIdentity>().PeerId;
        await node.Client.WaitForRegionalStateAsync("joined");

        await node.DisposeAsync();
        await regional.WaitForAsync(m => m.Type == "leave" && m.PeerId == peerId, "leave");

        await regional.WaitUntilAsync(() => !regional.IsJoined(peerId), "the node to be deregistered");
    }

    [Fact]
    public async Task Start_RegionalCaCertNotPem_FailsTheLinkWithTheReasonAndServes()
    {
        var caPath = Path.Combine(Path.GetTempPath(), $"tenzro-ca-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(caPath, "not a certificate");
        try
        {
            await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["REGIONAL_NODE_URL"] = "wss://127.0.0.1:9", ["REGIONAL_CA_CERT"] = caPath });

            var status = await node.Client.WaitForRegionalStateAsync("failed");

            Assert.Contains("REGIONAL_CA_CERT", status["regional"]!["reason"]!.GetValue<string>());
        }
        finally
        {
            File.Delete(caPath);
        }
    }

    [Fact]
    public void Settings_RegionalCaCertMissingFile_IsAConfigurationError()
    {
        var error = Assert.Throws<Core.Configuration.ConfigurationException>(() => TestNode.Settings(Path.Combine(Path.GetTempPath(), "tenzro-unused"), new Dictionary<string, string?> { ["REGIONAL_CA_CERT"] = "/nonexistent/ca.pem" }));

        Assert.Contains(error.Errors, e => e.Key == "REGIONAL_CA_CERT");
    }

    [Fact]
    public async Task NetworkDiagnostics_ReachableRegionalNode_PrintsEveryStepAndExitsZero()
    {
        await using var regional = await DevRegionalNode.StartAsync();

        var (exit, output) = await RunCliAsync("network-diagnostics", "--regional-url", regional.Url.ToString());
        await regional.WaitForAsync(m => m.Type == "leave" && m.PeerId!.StartsWith("diagnostics-", StringComparison.Ordinal), "the diagnostics peer to leave");

        Assert.Equal(0, exit);
        foreach (var step in (string[])["resolve", "tcp", "tls", "websocket", "join"])
        {
            Assert.Matches($"ok +{step} ", output);
        }

        Assert.Contains("network_state after", output);
    }

    [Fact]
    public async Task NetworkDiagnostics_NothingListening_FailsAtTcpAndExitsOne()
    {
        var port = RegionalKit.FreePort();

        var (exit, output) = await RunCliAsync("network-diagnostics", "--regional-url", $"ws://127.0.0.1:{port}", "--timeout", "5");

        Assert.Equal(1, exit);
        Assert.Matches("ok +resolve ", output);
        Assert.Matches("FAIL tcp ", output);
        Assert.DoesNotContain("websocket", output);
    }

    private static readonly SemaphoreSlim ConsoleLock = new(1, 1);

    private static async Task<(int Exit, string Output)> RunCliAsync(params string[] args)
    {
        await ConsoleLock.WaitAsync(Timeouts.Token());
        var previous = Console.Out;
        using var writer = new StringWriter();
        Console.SetOut(writer);
        try
        {
            var exit = await Cli.CliApp.RunAsync(args).WaitAsync(Timeouts.Long);
            return (exit, writer.ToString());
        }
        finally
        {
            Console.SetOut(previous);
            ConsoleLock.Release();
        }
    }
}
