using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Regional;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Networking.Regional;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Regional;

/// <summary>The pieces of the regional protocol that need no socket: task mapping, result wrapping, backoff, URL rules, the outbox.</summary>
[Trait("Suite", "regional")]
public sealed class RegionalProtocolTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan TaskTimeout = TimeSpan.FromSeconds(1800);

    [Fact]
    public void ToLocal_RegionalForm_MapsPriorityConfigInputAndRequirements()
    {
        var task = JsonNode.Parse("""
            {"taskId":"task-1","type":"process",
             "requirements":{"minTier":"aggregator","minMemory":8,"minStorage":0.5,"gpuRequired":true,"priority":"high","estimatedDuration":60,"maxNodes":5},
             "data":{"input":[1,2,3],"config":{"op":"sum"},"resultEndpoint":"https://x"},
             "expiry":"2026-01-01T12:10:00.000Z"}
            """)!.AsObject();
        var errors = new ValidationErrors();

        var local = RegionalTaskMapper.ToLocal(task, Now, TaskTimeout, errors);

        Assert.True(errors.IsEmpty, errors.ToString());
        Assert.Equal("task-1", local["taskId"]!.GetValue<string>());
        Assert.Equal("high", local["priority"]!.GetValue<string>());
        Assert.Equal("sum", local["config"]!["op"]!.GetValue<string>());
        Assert.Equal("[1,2,3]", local["data"]!["input"]!.ToJsonString());
        Assert.False(local["data"]!.AsObject().ContainsKey("config"));
        Assert.False(local["data"]!.AsObject().ContainsKey("resultEndpoint"));
        Assert.Equal(8192, local["requirements"]!["memoryMB"]!.GetValue<double>());
        Assert.Equal(512, local["requirements"]!["storageMB"]!.GetValue<double>());
        Assert.Equal(1, local["requirements"]!["gpuCount"]!.GetValue<double>());
        Assert.Equal(600, local["timeout"]!.GetValue<double>());
    }

    [Fact]
    public void ToLocal_LocalFieldsPresent_TakePrecedenceAndTimeoutIsCapped()
    {
        var task = JsonNode.Parse("""
            {"taskId":"t","type":"store","priority":"critical","config":{"a":1},"timeout":99999,
             "requirements":{"memoryMB":64,"minMemory":8,"priority":"low"},"data":{"content":"x","config":{"a":2}}}
            """)!.AsObject();
        var errors = new ValidationErrors();

        var local = RegionalTaskMapper.ToLocal(task, Now, TaskTimeout, errors);
        var spec = TaskParser.Parse(local, TaskTimeout, ["store"], TaskOrigins.Regional, errors);

        Assert.True(errors.IsEmpty, errors.ToString());
        Assert.Equal(TaskPriority.Critical, spec!.Priority);
        Assert.Equal(1, spec.Config["a"]!.GetValue<double>());
        Assert.Equal(64, spec.Requirements.MemoryMB);
        Assert.Equal(TaskTimeout, spec.Timeout);
        Assert.Equal(TaskOrigins.Regional, spec.Origin);
    }

    [Fact]
    public void ToLocal_NoPriorityNoExpiry_DefaultsToMediumAndTaskTimeout()
    {
        var errors = new ValidationErrors();

        var local = RegionalTaskMapper.ToLocal(JsonNode.Parse("""{"taskId":"t","type":"store","data":"text"}""")!.AsObject(), Now, TaskTimeout, errors);
        var spec = TaskParser.Parse(local, TaskTimeout, ["store"], TaskOrigins.Regional, errors);

        Assert.True(errors.IsEmpty, errors.ToString());
        Assert.Equal(TaskPriority.Medium, spec!.Priority);
        Assert.Equal(TaskTimeout, spec.Timeout);
        Assert.Equal("text", spec.Data["input"]!.GetValue<string>());
    }

    [Fact]
    public void ToLocal_ExpiredOrBadRequirement_ReportsEachError()
    {
        var errors = new ValidationErrors();

        RegionalTaskMapper.ToLocal(
            JsonNode.Parse("""{"taskId":"t","type":"store","expiry":"2026-01-01T11:59:00Z","requirements":{"minMemory":"lots","gpuRequired":"yes"}}""")!.AsObject(),
            Now,
            TaskTimeout,
            errors);

        var fields = errors.ToDictionary();
        Assert.Contains("expiry", fields.Keys);
        Assert.Contains("requirements.minMemory", fields.Keys);
        Assert.Contains("requirements.gpuRequired", fields.Keys);
    }

    [Theory]
    [InlineData("""{"sum":6}""", """{"sum":6}""")]
    [InlineData("""{}""", """{}""")]
    [InlineData("0", """{"value":0}""")]
    [InlineData("false", """{"value":false}""")]
    [InlineData("\"\"", """{"value":""}""")]
    [InlineData(null, """{"value":null}""")]
    [InlineData("""{"digest":"theirs"}""", """{"value":{"digest":"theirs"}}""")]
    public void WireResult_AnyResult_IsAnObjectWithTheDigest(string? result, string expectedWithoutDigest)
    {
        var wire = RegionalMessages.WireResult(result, "d1");

        Assert.Equal("d1", wire["digest"]!.GetValue<string>());
        wire.Remove("digest");
        Assert.Equal(CanonicalJson.Digest(JsonNode.Parse(expectedWithoutDigest)), CanonicalJson.Digest(wire));
    }

    [Fact]
    public void NodeStatus_Figures_HasEveryFieldAndNoNestedStatus()
    {
        var message = RegionalMessages.NodeStatus("p1", new NodeStatusFigures
        {
            NodeType = "individual", NodeTier = "inference", Region = "us-east", CpuPercent = 12.3456,
            MemoryAvailableGb = 16, StorageFreeGb = 200, BandwidthMbps = 100, Earnings = 5, ActiveTasks = 1, CompletedTasks = 4, Now = Now,
        });

        var status = message["status"]!.AsObject();
        Assert.Equal("node_status", message["type"]!.GetValue<string>());
        Assert.Equal("p1", message["peerId"]!.GetValue<string>());
        Assert.Equal(["peerId", "online", "nodeType", "nodeTier", "region", "connections", "resources", "earnings", "activeTasks", "completedTasks", "lastUpdate"], status.Select(p => p.Key));
        Assert.Equal(["cpu", "memory", "storage", "bandwidth", "timestamp"], status["resources"]!.AsObject().Select(p => p.Key));
        Assert.Equal(12.35, status["resources"]!["cpu"]!.GetValue<double>());
        Assert.Equal("2026-01-01T12:00:00.000Z", status["lastUpdate"]!.GetValue<string>());
    }

    [Fact]
    public void Backoff_ConsecutiveFailures_StartsAtTheIntervalDoublesAndIsCapped()
    {
        var initial = TimeSpan.FromMilliseconds(100);
        var max = TimeSpan.FromMilliseconds(1000);

        Assert.Equal(initial, RegionalLink.Backoff(0, initial, max, 0));
        Assert.Equal(initial, RegionalLink.Backoff(1, initial, max, 0));
        Assert.Equal(TimeSpan.FromMilliseconds(200), RegionalLink.Backoff(2, initial, max, 0));
        Assert.Equal(TimeSpan.FromMilliseconds(800), RegionalLink.Backoff(4, initial, max, 0));
        Assert.Equal(max, RegionalLink.Backoff(5, initial, max, 0));
        Assert.Equal(max, RegionalLink.Backoff(1000, initial, max, 0));
        Assert.Equal(TimeSpan.FromMilliseconds(800), RegionalLink.Backoff(1000, initial, max, 1));
    }

    [Theory]
    [InlineData("ws://127.0.0.1:9000", "ws://127.0.0.1:9000/ws")]
    [InlineData("ws://127.0.0.1:9000/", "ws://127.0.0.1:9000/ws")]
    [InlineData("wss://regional.example.com", "wss://regional.example.com/ws")]
    [InlineData("wss://regional.example.com/signal", "wss://regional.example.com/signal")]
    public void WithPath_UrlWithoutPath_GetsWs(string configured, string expected)
    {
        Assert.Equal(new Uri(expected), RegionalEndpoint.WithPath(new Uri(configured)));
    }

    [Theory]
    [InlineData("ws://127.0.0.1:9000", false, true)]
    [InlineData("ws://localhost:9000", false, true)]
    [InlineData("ws://regional.example.com", false, false)]
    [InlineData("ws://regional.example.com", true, true)]
    [InlineData("wss://regional.example.com", false, true)]
    public void TransportRefusal_PlainWsToRemoteHost_IsRefusedUnlessAllowed(string url, bool allowInsecure, bool allowed)
    {
        Assert.Equal(allowed, RegionalEndpoint.TransportRefusal(new Uri(url), allowInsecure) is null);
    }

    [Fact]
    public void Outbox_AppendThenMarkSent_KeepsOrderAndSurvivesReopening()
    {
        var directory = TestNode.NewDirectory();
        try
        {
            var database = new NodeDatabase(Path.Combine(directory, "node.db"));
            database.Migrate(Migrations.All);
            var time = new FakeTimeProvider(Now);
            var outbox = new RegionalOutbox(database, time);
            var first = outbox.Append("task_accepted", "t1", RegionalMessages.TaskAccepted("p", "t1"));
            outbox.Append("task_completed", "t1", RegionalMessages.TaskCompleted("p", "t1", """{"x":1}""", "d"));
            outbox.Append("task_rejected", "t2", RegionalMessages.TaskRejected("p", "t2", "no"));

            outbox.MarkSent(first.Sequence);
            outbox.RecordError(first.Sequence, "Task acceptance failed");
            var reopened = new RegionalOutbox(new NodeDatabase(Path.Combine(directory, "node.db")), time);

            Assert.Equal(["task_completed", "task_rejected"], reopened.Pending(10).Select(e => e.Type));
            Assert.Equal(2, reopened.PendingCount());
            Assert.True(reopened.HasFinal("t1"));
            Assert.False(reopened.HasFinal("t2"));
            Assert.Equal("Task acceptance failed", reopened.ForTask("t1")[0].Error);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void EarningsLedger_Rewards_AddUpAndSurviveReopening()
    {
        var directory = TestNode.NewDirectory();
        try
        {
            var database = new NodeDatabase(Path.Combine(directory, "node.db"));
            database.Migrate(Migrations.All);
            var time = new FakeTimeProvider(Now);
            var ledger = new EarningsLedger(database, time);
            ledger.Record("t1", 90);
            time.Advance(TimeSpan.FromMinutes(1));
            ledger.Record("t2", 5.5);

            var reopened = new EarningsLedger(new NodeDatabase(Path.Combine(directory, "node.db")), time).Totals;

            Assert.Equal(95.5, reopened.Total);
            Assert.Equal(2, reopened.Rewards);
            Assert.Equal(Now.AddMinutes(1), reopened.LastRewardAt);
            Assert.Throws<ArgumentOutOfRangeException>(() => ledger.Record("t3", -1));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
