using System.Text.Json.Nodes;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.DevNetwork;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Regional;

/// <summary>
/// Link faults between a node and the development regional node, injected by a <see cref="FaultProxy"/>: the link
/// recovers every time, /status tells its state meanwhile, and no result is lost or sent twice.
/// </summary>
[Trait("Suite", "regional")]
public sealed class RegionalFaultTests
{
    [Fact]
    public async Task Reset_WhileATaskRunsAndTheRegionalNodeUnreachable_StatusSaysConnectingAndTheResultArrivesOnceAfterTheRejoin()
    {
        var runtime = new ScriptedRuntime("compute");
        await using var regional = await DevRegionalNode.StartAsync();
        await using var proxy = FaultProxy.Start(regional.Port);
        await using var node = await RegionalKit.StartNodeAsync(proxy.WebSocketUrl, configure: b => b.Services.AddSingleton<Core.Tasks.ITaskRuntime>(runtime));
        var peerId = node.Service<NodeIdentity>().PeerId;
        await regional.WaitUntilAsync(() => regional.StatusOf(peerId) is not null, "the join");
        await regional.SendAssignmentAsync(peerId, new JsonObject
        {
            ["taskId"] = "task-fault-1",
            ["type"] = "compute",
            ["data"] = new JsonObject { ["action"] = "gate", ["gate"] = "g1", ["value"] = 7 },
        });
        await regional.WaitForAsync(m => m.Type == "task_accepted" && m.TaskId == "task-fault-1", "task_accepted");

        proxy.Mode = FaultProxy.Fault.Refuse;
        proxy.ResetAll();
        var down = await node.Client.WaitForJsonAsync("/status", s => s["regional"]!["state"]!.GetValue<string>() != "joined", "the link to notice the reset");
        runtime.Open("g1");
        await node.Client.WaitForJsonAsync("/api/network/status", s => s["regional"]!["outboxDepth"]!.GetValue<long>() >= 1, "the final report to wait in the outbox");
        var stillDown = await node.Client.GetJsonAsync("/status");
        proxy.Mode = FaultProxy.Fault.None;
        var completed = await regional.WaitForAsync(m => m.Type == "task_completed" && m.TaskId == "task-fault-1", "task_completed after the rejoin");
        await regional.WaitUntilAsync(() => regional.Received().Count(m => m.Type == "node_status" && m.Index > completed.Index) >= 2, "heartbeats after the delivery");
        var up = await node.Client.WaitForRegionalStateAsync("joined");
        var network = await node.Client.WaitForJsonAsync("/api/network/status", s => s["regional"]!["outboxDepth"]!.GetValue<long>() == 0, "an empty outbox");

        Assert.Equal("connecting", down["regional"]!["state"]!.GetValue<string>());
        Assert.Equal("connecting", stillDown["regional"]!["state"]!.GetValue<string>());
        Assert.Single(regional.Received(), m => m.Type == "task_completed" && m.TaskId == "task-fault-1");
        Assert.Equal(7, completed.Message["result"]!["value"]!.GetValue<int>());
        Assert.True(up["regional"]!["reconnects"]!.GetValue<long>() >= 1);
        Assert.Equal(0, network["regional"]!["outboxDepth"]!.GetValue<long>());
        Assert.True(proxy.Accepted >= 2, $"the node dialled {proxy.Accepted} times");
    }

    [Fact]
    public async Task TruncatedFrameThenSlowLink_NodeRejoinsAndATaskAssignedOverTheSlowLinkCompletesOnce()
    {
        await using var regional = await DevRegionalNode.StartAsync();
        await using var proxy = FaultProxy.Start(regional.Port);
        await using var node = await RegionalKit.StartNodeAsync(proxy.WebSocketUrl);
        var peerId = node.Service<NodeIdentity>().PeerId;
        await regional.WaitUntilAsync(() => regional.StatusOf(peerId) is not null, "the join");
        var joins = regional.Received().Count(m => m.Type == "join");

        // The next frame the node sends (a heartbeat) is cut after 5 bytes and the connection reset.
        proxy.TruncateNext(5);
        await regional.WaitUntilAsync(() => regional.Received().Count(m => m.Type == "join") > joins, "a join after the truncated frame");
        proxy.Delay = TimeSpan.FromMilliseconds(50);
        await node.Client.WaitForRegionalStateAsync("joined");
        await regional.SendAssignmentAsync(peerId, RegionalKit.RegionalTask("task-slow-1", "store", "over a slow link"));
        var completed = await regional.WaitForAsync(m => m.Type == "task_completed" && m.TaskId == "task-slow-1", "task_completed over the slow link");
        await regional.WaitUntilAsync(() => regional.Received().Count(m => m.Type == "node_status" && m.Index > completed.Index) >= 2, "heartbeats after the delivery");
        var status = await node.Client.GetJsonAsync("/status");
        var local = await node.Client.GetJsonAsync("/api/tasks/task-slow-1");
        var result = await node.Client.GetJsonAsync("/api/tasks/task-slow-1/result");

        Assert.Equal("joined", status["regional"]!["state"]!.GetValue<string>());
        Assert.True(status["regional"]!["reconnects"]!.GetValue<long>() >= 1);
        Assert.Single(regional.Received(), m => m.Type == "task_completed" && m.TaskId == "task-slow-1");
        Assert.Equal("completed", local["state"]!.GetValue<string>());
        Assert.Equal(result["digest"]!.GetValue<string>(), completed.Message["result"]!["digest"]!.GetValue<string>());
    }

    [Fact]
    public async Task BlackHole_ResultSentIntoTheSilentLink_LinkIsDeclaredDeadWithinTheKeepAliveAndTheResultArrivesAfterThePathIsBack()
    {
        var runtime = new ScriptedRuntime("compute");
        await using var regional = await DevRegionalNode.StartAsync();
        await using var proxy = FaultProxy.Start(regional.Port);
        var settings = new Dictionary<string, string?> { ["REGIONAL_KEEPALIVE_TIMEOUT"] = "3000" };
        await using var node = await RegionalKit.StartNodeAsync(proxy.WebSocketUrl, settings, b => b.Services.AddSingleton<Core.Tasks.ITaskRuntime>(runtime));
        var peerId = node.Service<NodeIdentity>().PeerId;
        await regional.WaitUntilAsync(() => regional.StatusOf(peerId) is not null, "the join");
        await regional.SendAssignmentAsync(peerId, new JsonObject
        {
            ["taskId"] = "task-hole-1",
            ["type"] = "compute",
            ["data"] = new JsonObject { ["action"] = "gate", ["gate"] = "h1", ["value"] = 9 },
        });
        await regional.WaitForAsync(m => m.Type == "task_accepted" && m.TaskId == "task-hole-1", "task_accepted");

        // The path goes silent: nothing passes either way and nothing is closed. The result is written into it.
        proxy.Mode = FaultProxy.Fault.BlackHole;
        runtime.Open("h1");
        var down = await node.Client.WaitForJsonAsync("/status", s => s["regional"]!["state"]!.GetValue<string>() != "joined", "the keep-alive to find the silent link dead", TimeSpan.FromSeconds(20));
        var missing = regional.Received().Count(m => m.Type == "task_completed" && m.TaskId == "task-hole-1");
        proxy.Mode = FaultProxy.Fault.None;
        var completed = await regional.WaitForAsync(m => m.Type == "task_completed" && m.TaskId == "task-hole-1", "task_completed after the path is back", TimeSpan.FromSeconds(40));
        var up = await node.Client.WaitForRegionalStateAsync("joined", TimeSpan.FromSeconds(20));

        Assert.Equal("connecting", down["regional"]!["state"]!.GetValue<string>());
        Assert.Equal(0, missing);
        Assert.Equal(9, completed.Message["result"]!["value"]!.GetValue<int>());
        Assert.All(regional.Received().Where(m => m.Type == "task_completed" && m.TaskId == "task-hole-1"), m => Assert.Equal(completed.Message["result"]!.ToJsonString(), m.Message["result"]!.ToJsonString()));
        Assert.True(up["regional"]!["reconnects"]!.GetValue<long>() >= 1);
    }
}
