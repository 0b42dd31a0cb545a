using System.Net;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Tasks.Builtin;

/// <summary>The built-in task types through the HTTP API of a real node.</summary>
[Trait("Suite", "tasks")]
public sealed class BuiltinApiTests(BuiltinApiTests.NodeFixture fixture) : IClassFixture<BuiltinApiTests.NodeFixture>
{
    private const string ProcessTask = """
        {"type":"process","data":{"input":[{"kind":"a","price":3},{"kind":"b","price":10},{"kind":"a","price":7}],
         "pipeline":[{"op":"filter","expr":"x.price > 4"},{"op":"map","expr":"x.price * 2 + 1"},{"op":"sort","order":"desc"}]}}
        """;

    private HttpClient Client => fixture.Node.Client;

    [Fact]
    public async Task Submit_UnknownProcessOperation_Is422NamingTheField()
    {
        var (status, body) = await Client.SubmitAsync("""{"type":"process","data":{"input":[1],"pipeline":[{"op":"map","expr":"x"},{"op":"sum"},{"op":"frobnicate"}]}}""");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        var message = body!["errors"]!["data.pipeline[2].op"]![0]!.GetValue<string>();
        Assert.StartsWith("'frobnicate' is not an operation; expected one of map, filter, sort,", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_ProcessPipelineOverTheLimit_Is422()
    {
        var stages = string.Join(",", Enumerable.Repeat("""{"op":"distinct"}""", 33));

        var (status, body) = await Client.SubmitAsync($$$"""{"type":"process","data":{"input":[1],"pipeline":[{{{stages}}}]}}""");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("the limit is 32", body!["errors"]!["data.pipeline"]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Process_RegionalShorthand_CompletesWithOutputAndDigest()
    {
        var result = await RunAsync(Client, """{"type":"process","data":{"input":[1,2,3],"config":{"op":"sum"}}}""");

        Assert.Equal("completed", result["state"]!.GetValue<string>());
        Assert.Equal("""{"output":6}""", result["result"]!.ToJsonString());
        Assert.Equal(CanonicalJson.Digest(JsonNode.Parse("""{"output":6}""")), result["digest"]!.GetValue<string>());
    }

    [Fact]
    public async Task Process_Pipeline_GivesTheDocumentedResult()
    {
        var result = await RunAsync(Client, ProcessTask);

        Assert.Equal("""{"output":[21,15]}""", result["result"]!.ToJsonString());
    }

    [Fact]
    public async Task Aggregate_TaskIdsOfCompletedStoreTasks_CombinesTheSelectedField()
    {
        var first = await RunAsync(Client, """{"type":"store","data":{"content":"hello"}}""");
        var second = await RunAsync(Client, """{"type":"store","data":{"content":"hi!"}}""");

        var result = await RunAsync(Client, $$$"""
            {"type":"aggregate","data":{"strategy":"sum","inputs":[100],"taskIds":["{{{Id(first)}}}","{{{Id(second)}}}"],"path":"size"}}
            """);

        Assert.Equal("completed", result["state"]!.GetValue<string>());
        Assert.Equal("""{"count":3,"value":108}""", CanonicalJson.ToCanonicalString(System.Text.Json.JsonDocument.Parse(result["result"]!.ToJsonString()).RootElement));
    }

    [Fact]
    public async Task Aggregate_TaskIdOfFailedTask_FailsWithTheReason()
    {
        var failed = await RunAsync(Client, """{"type":"process","data":{"input":[0],"pipeline":[{"op":"map","expr":"1 / x"}]}}""");
        Assert.Equal("failed", failed["state"]!.GetValue<string>());

        var result = await RunAsync(Client, $$$"""{"type":"aggregate","data":{"strategy":"sum","taskIds":["{{{Id(failed)}}}"]}}""");

        Assert.Equal("failed", result["state"]!.GetValue<string>());
        Assert.Contains($"('{Id(failed)}'): the task is failed, not completed", result["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_ByTaskId_MatchesTheStoredDigest()
    {
        var original = await RunAsync(Client, ProcessTask);

        var result = await RunAsync(Client, $$$"""{"type":"validate","data":{"taskId":"{{{Id(original)}}}"}}""");

        Assert.Equal("completed", result["state"]!.GetValue<string>());
        var digest = original["digest"]!.GetValue<string>();
        Assert.Equal($$$"""{"actual":"{{{digest}}}","expected":"{{{digest}}}","match":true}""", result["result"]!.ToJsonString());
    }

    [Fact]
    public async Task Validate_AggregateByTaskId_ReExecutesAgainstTheSameInputs()
    {
        var stored = await RunAsync(Client, """{"type":"store","data":{"content":"validate me"}}""");
        var aggregate = await RunAsync(Client, $$$"""{"type":"aggregate","data":{"strategy":"majority","inputs":["x"],"taskIds":["{{{Id(stored)}}}"],"path":"sha256"}}""");

        var result = await RunAsync(Client, $$$"""{"type":"validate","data":{"taskId":"{{{Id(aggregate)}}}"}}""");

        Assert.True(result["result"]!["match"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Validate_FullTaskWithWrongDigest_DoesNotMatch()
    {
        var original = await RunAsync(Client, ProcessTask);
        var wrong = new string('0', 64);

        var result = await RunAsync(Client, $$$"""{"type":"validate","data":{"task":{{{ProcessTask}}},"expectedDigest":"{{{wrong}}}"}}""");

        Assert.Equal("completed", result["state"]!.GetValue<string>());
        Assert.False(result["result"]!["match"]!.GetValue<bool>());
        Assert.Equal(wrong, result["result"]!["expected"]!.GetValue<string>());
        Assert.Equal(original["digest"]!.GetValue<string>(), result["result"]!["actual"]!.GetValue<string>());
    }

    [Fact]
    public async Task Validate_ValidateTask_IsRefused()
    {
        var original = await RunAsync(Client, ProcessTask);
        var validation = await RunAsync(Client, $$$"""{"type":"validate","data":{"taskId":"{{{Id(original)}}}"}}""");

        var (byId, byIdBody) = await Client.SubmitAsync($$$"""{"type":"validate","data":{"taskId":"{{{Id(validation)}}}"}}""");
        var (byTask, byTaskBody) = await Client.SubmitAsync($$$"""{"type":"validate","data":{"task":{"type":"validate","data":{"taskId":"{{{Id(original)}}}"}},"expectedDigest":"{{{new string('a', 64)}}}"}}""");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, byId);
        Assert.Contains("cannot itself be validated", byIdBody!["errors"]!["data.taskId"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, byTask);
        Assert.Contains("cannot itself be validated", byTaskBody!["errors"]!["data.task.type"]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_InvalidInnerTask_Is422WithPrefixedField()
    {
        var (status, body) = await Client.SubmitAsync($$$"""{"type":"validate","data":{"task":{"type":"process","data":{"input":[1],"pipeline":[{"op":"frobnicate"}]}},"expectedDigest":"{{{new string('a', 64)}}}"}}""");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.NotNull(body!["errors"]!["data.task.data.pipeline[0].op"]);
    }

    [Fact]
    public async Task Validate_InnerTaskAboveTheNodesMaximum_Is422()
    {
        // The review's wrapper: a compute task refused on its own (memoryMB above the ledger maximum) inside a 16 MB validate task.
        const string inner = """{"type":"compute","requirements":{"memoryMB":100000},"data":{"wat":"(module (memory (export \"memory\") 1) (func (export \"_start\")))"}}""";
        var (alone, _) = await Client.SubmitAsync(inner);

        var (status, body) = await Client.SubmitAsync($$$"""{"type":"validate","requirements":{"cpu":0.1,"memoryMB":16},"data":{"task":{{{inner}}},"expectedDigest":"{{{new string('0', 64)}}}"}}""");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, alone);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        var messages = body!["errors"]!["data.task.requirements.memoryMB"]!.AsArray().Select(m => m!.GetValue<string>()).ToList();
        Assert.Contains(messages, m => m.Contains("this node allows at most", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("this validate task reserves 16", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Validate_InnerTaskAskingMoreThanTheValidateTask_Is422()
    {
        const string inner = """{"type":"compute","requirements":{"cpu":1,"memoryMB":64,"storageMB":100},"config":{"scratch":true},"data":{"wat":"(module (memory (export \"memory\") 1) (func (export \"_start\")))"}}""";

        var (status, body) = await Client.SubmitAsync($$$"""{"type":"validate","requirements":{"cpu":0.5,"memoryMB":64,"storageMB":1},"data":{"task":{{{inner}}},"expectedDigest":"{{{new string('0', 64)}}}"}}""");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        var errors = body!["errors"]!.AsObject();
        Assert.Equal(["data.task.requirements.cpu", "data.task.requirements.storageMB"], errors.Select(e => e.Key).Order(StringComparer.Ordinal));
        Assert.Contains("requirements.storageMB of the validate task must be at least 100", errors["data.task.requirements.storageMB"]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_ByTaskIdOfATaskAskingMore_Is422UntilTheValidateTaskReservesAsMuch()
    {
        var original = await RunAsync(Client, """{"type":"process","requirements":{"cpu":1,"memoryMB":300},"data":{"input":[1,2],"config":{"op":"sum"}}}""");

        var (small, body) = await Client.SubmitAsync($$$"""{"type":"validate","requirements":{"cpu":1,"memoryMB":256},"data":{"taskId":"{{{Id(original)}}}"}}""");
        var enough = await RunAsync(Client, $$$"""{"type":"validate","requirements":{"cpu":1,"memoryMB":300},"data":{"taskId":"{{{Id(original)}}}"}}""");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, small);
        Assert.StartsWith($"task '{Id(original)}' asks for 300 but this validate task reserves 256", body!["errors"]!["requirements.memoryMB"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(enough["result"]!["match"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Digests_TwoIndependentNodes_AreEqual()
    {
        await using var other = await TestNode.StartAsync();
        const string aggregate = """
            {"type":"aggregate","data":{"strategy":"federated_average","inputs":[
              {"parameters":{"w":[0.1,0.2,0.3],"b":[0.5]},"sampleCount":10},
              {"parameters":{"w":[0.3,0.1,0.7],"b":[-0.5]},"sampleCount":30}]}}
            """;
        const string hashes = """{"type":"process","data":{"input":[{"b":1.0,"a":"é"},[1e2,true,null]],"pipeline":[{"op":"hash"}]}}""";

        foreach (var task in new[] { ProcessTask, aggregate, hashes })
        {
            var here = await RunAsync(Client, task);
            var there = await RunAsync(other.Client, task);

            Assert.Equal("completed", here["state"]!.GetValue<string>());
            Assert.Matches("^[0-9a-f]{64}$", here["digest"]!.GetValue<string>());
            Assert.Equal(here["digest"]!.GetValue<string>(), there["digest"]!.GetValue<string>());
        }
    }

    private static string Id(JsonObject result) => result["taskId"]!.GetValue<string>();

    /// <summary>Submits a task and returns its result body once it is final.</summary>
    private static async Task<JsonObject> RunAsync(HttpClient client, string task)
    {
        var (status, body) = await client.SubmitAsync(task, "?wait=10s");
        Assert.True(status is HttpStatusCode.OK or HttpStatusCode.Accepted, $"{(int)status}: {body?.ToJsonString()}");
        if (status == HttpStatusCode.OK && body!["state"] is not null)
        {
            return body;
        }

        var taskId = body!["taskId"]!.GetValue<string>();
        await client.WaitFinalAsync(taskId);
        return await client.GetJsonAsync($"/api/tasks/{taskId}/result");
    }

    /// <summary>One node for the whole class; each test uses its own tasks.</summary>
    public sealed class NodeFixture : IAsyncLifetime
    {
        public TestNode Node { get; private set; } = null!;

        public async Task InitializeAsync() => Node = await TestNode.StartAsync();

        public async Task DisposeAsync() => await Node.DisposeAsync();
    }
}
