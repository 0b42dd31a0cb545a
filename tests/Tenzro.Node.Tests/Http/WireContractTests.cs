using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Api;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Http;

/// <summary>
/// The answers written from the wire contracts keep CONTRACTS.md's members, in order, nulls included, and read back
/// into the same records the CLI uses.
/// </summary>
[Trait("Suite", "http")]
public sealed class WireContractTests : IAsyncLifetime
{
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync();

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task TaskStatusAndResult_FinalTask_WriteEveryMemberInOrder()
    {
        var (_, submitted) = await _node.Client.SubmitAsync("""{"taskId":"w1","type":"store","data":{"content":"wire"}}""", "?wait=10s");
        var status = await _node.Client.GetJsonAsync("/api/tasks/w1");
        var result = await _node.Client.GetJsonAsync("/api/tasks/w1/result");

        Assert.Equal(["taskId", "state", "result", "digest", "error"], submitted!.Select(p => p.Key));
        Assert.Equal(
            ["taskId", "type", "priority", "state", "progress", "attempts", "origin", "owner", "submittedAt", "startedAt", "finishedAt", "timeout",
                "requirements", "reservation", "waitingFor", "estimate", "paused", "pauseReason", "error", "errorKind"],
            status.Select(p => p.Key));
        Assert.Equal(["cpu", "memoryMB", "storageMB", "gpuCount", "gpuMemoryMB"], status["requirements"]!.AsObject().Select(p => p.Key));
        Assert.True(status.ContainsKey("errorKind") && status["errorKind"] is null);
        Assert.Equal(submitted!.ToJsonString(), result.ToJsonString());

        var read = status.Deserialize(CoreJson.Default.TaskStatusBody)!;
        Assert.Equal(("w1", "completed", 1.0, 256L), (read.TaskId, read.State, read.Progress, read.Requirements.MemoryMB));
        Assert.Equal(JsonNode.Parse(JsonSerializer.Serialize(read, CoreJson.Default.TaskStatusBody))!.ToJsonString(), status.ToJsonString());
    }

    [Fact]
    public async Task Submit_NewAndRepeated_Answer202And200WithTheSameMembers()
    {
        var (first, created) = await _node.Client.SubmitAsync("""{"taskId":"w2","type":"store","data":{"content":"x"}}""");
        var (again, existing) = await _node.Client.SubmitAsync("""{"taskId":"w2","type":"store","data":{"content":"x"}}""");

        Assert.Equal(System.Net.HttpStatusCode.Accepted, first);
        Assert.Equal(System.Net.HttpStatusCode.OK, again);
        Assert.Equal(["taskId", "status", "location"], created!.Select(p => p.Key));
        Assert.Equal(["taskId", "status", "location"], existing!.Select(p => p.Key));
        Assert.Equal("/api/tasks/w2", existing!["location"]!.GetValue<string>());
    }

    [Fact]
    public async Task Status_FreshNode_WritesTheContractMembersAndReadsBack()
    {
        var body = await _node.Client.GetJsonAsync("/status");

        Assert.Equal(["peerId", "nodeId", "nodeType", "tier", "region", "version", "uptimeSeconds", "tokenBalance", "earnings", "regional", "tasks", "draining"], body.Select(p => p.Key));
        Assert.Equal(["state", "url", "since", "reconnects", "reason"], body["regional"]!.AsObject().Select(p => p.Key));
        Assert.Equal(["queued", "running", "completed", "failed", "cancelled", "timedOut"], body["tasks"]!.AsObject().Select(p => p.Key));
        var read = body.Deserialize(ApiJson.Default.StatusBody)!;
        Assert.Equal(body["peerId"]!.GetValue<string>(), read.PeerId);
        Assert.Equal("disabled", read.Regional.State);
        Assert.Null(read.Regional.Url);
    }

    [Fact]
    public async Task NetworkStatus_Standalone_WritesEverySectionWithNulls()
    {
        var body = await _node.Client.GetJsonAsync("/api/network/status");

        Assert.Equal(["regional", "earnings", "peers", "links", "lan", "dht", "p2p", "raftPort"], body.Select(p => p.Key));
        Assert.Equal(
            ["state", "url", "since", "reason", "reconnects", "consecutiveFailures", "joinedAt", "lastJoinRoundTripMs", "lastNodeStatus", "lastNodeStatusAt",
                "outboxDepth", "droppedFrames", "regionalKey", "warnings", "refusedRewards", "recentErrors"],
            body["regional"]!.AsObject().Select(p => p.Key));
        Assert.Equal(["enabled", "state", "interfaces", "peers"], body["lan"]!.AsObject().Select(p => p.Key));
        Assert.True(body.ContainsKey("raftPort") && body["raftPort"] is null);
        Assert.Equal("off", body.Deserialize(ApiJson.Default.NetworkStatusBody)!.Lan.State);
    }

    [Fact]
    public async Task DrainAndResume_Admin_AnswerTheStateAndTheCounts()
    {
        var drained = await TaskApi.ReadAsync(await _node.Admin.PostAsync("/api/node/drain", null, Timeouts.Token()));
        var resumed = await TaskApi.ReadAsync(await _node.Admin.PostAsync("/api/node/resume", null, Timeouts.Token()));

        Assert.Equal("""{"draining":true,"running":0,"queued":0}""", drained!.ToJsonString());
        Assert.Equal("""{"draining":false,"running":0,"queued":0}""", resumed!.ToJsonString());
    }
}
