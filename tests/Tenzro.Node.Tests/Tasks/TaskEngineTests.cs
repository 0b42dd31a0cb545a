using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Tests.Resources;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Tasks;

[Trait("Suite", "tasks")]
public sealed class TaskEngineTests
{
    private static string Id(JsonObject? body) => body!["taskId"]!.GetValue<string>();

    [Fact]
    public async Task Submit_StoreTask_Is202WithLocationThenCompletesWithDigest()
    {
        await using var node = await TestNode.StartAsync();
        using var content = new StringContent("""{"type":"store","priority":"low","data":{"content":"aGVsbG8=","encoding":"base64"}}""", System.Text.Encoding.UTF8, "application/json");

        var response = await node.Client.PostAsync("/api/tasks/execute", content, Timeouts.Token());
        var body = await TaskApi.ReadAsync(response);
        await node.Client.WaitFinalAsync(Id(body));
        var result = await node.Client.GetJsonAsync($"/api/tasks/{Id(body)}/result");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal($"/api/tasks/{Id(body)}", response.Headers.Location!.ToString());
        Assert.Equal("completed", result["state"]!.GetValue<string>());
        Assert.Equal("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", result["result"]!["sha256"]!.GetValue<string>());
        Assert.Equal(5, result["result"]!["size"]!.GetValue<int>());
        Assert.Matches("^[0-9a-f]{64}$", result["digest"]!.GetValue<string>());
        var blob = await node.Client.GetByteArrayAsync($"/api/blobs/{result["result"]!["sha256"]}", Timeouts.Token());
        Assert.Equal("hello"u8.ToArray(), blob);
    }

    [Fact]
    public async Task Submit_WithWait_AnswersWithTheResultInOneRoundTrip()
    {
        await using var node = await TestNode.StartAsync();

        var (status, body) = await node.Client.SubmitAsync("""{"type":"store","data":{"content":"x"}}""", "?wait=5s");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("completed", body!["state"]!.GetValue<string>());
        Assert.NotNull(body["digest"]);
    }

    [Fact]
    public async Task Submit_SameTaskIdSameContent_ReturnsExistingAndDifferentContentIs409()
    {
        await using var node = await TestNode.StartAsync();
        const string task = """{"taskId":"job-1","type":"store","data":{"content":"a"}}""";

        var first = await node.Client.SubmitAsync(task);
        var again = await node.Client.SubmitAsync(task);
        var clash = await node.Client.SubmitAsync("""{"taskId":"job-1","type":"store","data":{"content":"b"}}""");

        Assert.Equal(HttpStatusCode.Accepted, first.Status);
        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.Equal("job-1", Id(again.Body));
        Assert.Equal(HttpStatusCode.Conflict, clash.Status);
    }

    [Theory]
    [InlineData("""{"type":"frobnicate"}""", 422, "type")]
    [InlineData("""{"type":"store","timeout":-1,"data":{"content":"x"}}""", 422, "timeout")]
    [InlineData("""{"type":"store","timeout":999999,"data":{"content":"x"}}""", 422, "timeout")]
    [InlineData("""{"type":"store","timeout":"soon","data":{"content":"x"}}""", 400, "timeout")]
    [InlineData("""{"type":"store","priority":"urgent","data":{"content":"x"}}""", 422, "priority")]
    [InlineData("""{"type":"store","priority":3,"data":{"content":"x"}}""", 400, "priority")]
    [InlineData("""{"type":"store","data":[1,2]}""", 400, "data")]
    [InlineData("""{"type":"store","data":{}}""", 422, "data.content")]
    [InlineData("""[1,2,3]""", 400, null)]
    public async Task Submit_BadTask_AnswersProblemJsonNamingTheField(string json, int expected, string? field)
    {
        await using var node = await TestNode.StartAsync();

        var (status, body) = await node.Client.SubmitAsync(json);

        Assert.Equal(expected, (int)status);
        if (field is not null)
        {
            Assert.NotNull(body!["errors"]![field]);
        }
    }

    [Fact]
    public async Task Submit_SeveralBadFields_ListsEveryOne()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["MAX_MEMORY_GB"] = "1" });

        var (status, body) = await node.Client.SubmitAsync("""{"type":"store","priority":"urgent","timeout":-5,"requirements":{"memoryMB":99999},"data":{}}""");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        var fields = body!["errors"]!.AsObject().Select(e => e.Key).Order(StringComparer.Ordinal);
        Assert.Equal(["data.content", "priority", "requirements.memoryMB", "timeout"], fields);
    }

    [Fact]
    public async Task Submit_BodyOverMaxRequestSize_Is413()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["MAX_REQUEST_SIZE"] = "2048" });

        var (status, body) = await node.Client.SubmitAsync("{\"type\":\"store\",\"data\":{\"content\":\"" + new string('x', 5000) + "\"}}");

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains("MAX_REQUEST_SIZE", body!["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task Queue_HigherPriorityRunsFirstAndFifoWithinAPriority()
    {
        var (node, runtime) = await ScriptedRuntime.StartNodeAsync(new Dictionary<string, string?> { ["MAX_CONCURRENT_TASKS"] = "1" });
        await using var _ = node;
        var blocker = Id((await node.Client.SubmitAsync("""{"type":"script","data":{"action":"gate","gate":"blocker"}}""")).Body);
        await ResourcesApiTests.WaitUntilAsync(() => runtime.Started.Contains(blocker));

        var low = Id((await node.Client.SubmitAsync("""{"type":"script","priority":"low","data":{"action":"complete"}}""")).Body);
        var high1 = Id((await node.Client.SubmitAsync("""{"type":"script","priority":"high","data":{"action":"complete"}}""")).Body);
        var critical = Id((await node.Client.SubmitAsync("""{"type":"script","priority":"critical","data":{"action":"complete"}}""")).Body);
        var high2 = Id((await node.Client.SubmitAsync("""{"type":"script","priority":"high","data":{"action":"complete"}}""")).Body);
        var waiting = await node.Client.GetJsonAsync($"/api/tasks/{low}");
        var firstHigh = await node.Client.GetJsonAsync($"/api/tasks/{high1}");
        var lastHigh = await node.Client.GetJsonAsync($"/api/tasks/{high2}");
        runtime.Open("blocker");
        await node.Client.WaitFinalAsync(low);

        Assert.Equal([blocker, critical, high1, high2, low], runtime.Started.ToArray());
        Assert.Equal("queued", waiting["state"]!.GetValue<string>());
        Assert.Equal("concurrency", waiting["waitingFor"]!["reason"]!.GetValue<string>());
        Assert.Equal(4, waiting["waitingFor"]!["position"]!.GetValue<int>()); // 1 is next in line
        Assert.Equal(2, firstHigh["waitingFor"]!["position"]!.GetValue<int>()); // behind the critical one, ahead of the later high one
        Assert.Equal(3, lastHigh["waitingFor"]!["position"]!.GetValue<int>());
    }

    [Fact]
    public async Task Queue_TaskWaitingForMemory_SaysWhichResourceAndASmallerOneBackfills()
    {
        var (node, runtime) = await ScriptedRuntime.StartNodeAsync(new Dictionary<string, string?> { ["MAX_MEMORY_GB"] = "1" });
        await using var _ = node;
        var big = Id((await node.Client.SubmitAsync("""{"type":"script","requirements":{"memoryMB":800},"data":{"action":"gate","gate":"big"}}""")).Body);
        await ResourcesApiTests.WaitUntilAsync(() => runtime.Started.Contains(big));

        var second = Id((await node.Client.SubmitAsync("""{"type":"script","priority":"high","requirements":{"memoryMB":800},"data":{"action":"complete"}}""")).Body);
        var small = Id((await node.Client.SubmitAsync("""{"type":"script","priority":"low","requirements":{"memoryMB":100},"data":{"action":"complete"}}""")).Body);
        var smallDone = await node.Client.WaitFinalAsync(small);
        var status = await node.Client.GetJsonAsync($"/api/tasks/{second}");
        runtime.Open("big");

        Assert.Equal("completed", smallDone["state"]!.GetValue<string>());
        Assert.Equal("resources", status["waitingFor"]!["reason"]!.GetValue<string>());
        Assert.Equal("memoryMB", status["waitingFor"]!["resource"]!.GetValue<string>());
        Assert.Equal(224, status["waitingFor"]!["free"]!.GetValue<double>());
        Assert.Equal("completed", (await node.Client.WaitFinalAsync(second))["state"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("5")]
    [InlineData("2")] // every slot taken when the big task arrives: it is still found and held for
    public async Task Queue_BigTaskWaiting_IsNextInLineWhileSmallerOnesKeepComing(string slots)
    {
        var (node, runtime) = await ScriptedRuntime.StartNodeAsync(new Dictionary<string, string?> { ["MAX_MEMORY_GB"] = "1", ["MAX_CONCURRENT_TASKS"] = slots });
        await using var _ = node;
        var a = Id((await node.Client.SubmitAsync("""{"type":"script","priority":"low","requirements":{"memoryMB":512},"data":{"action":"gate","gate":"a"}}""")).Body);
        var b = Id((await node.Client.SubmitAsync("""{"type":"script","priority":"low","requirements":{"memoryMB":512},"data":{"action":"gate","gate":"b"}}""")).Body);
        await ResourcesApiTests.WaitUntilAsync(() => runtime.Started.Contains(a) && runtime.Started.Contains(b));
        var big = Id((await node.Client.SubmitAsync("""{"type":"script","priority":"high","requirements":{"memoryMB":1024},"data":{"action":"complete"}}""")).Body);
        var small = Id((await node.Client.SubmitAsync("""{"type":"script","priority":"low","requirements":{"memoryMB":256},"data":{"action":"complete"}}""")).Body);

        // a ends: its 512 MB would let the small task start, but they are held for the big one ahead of it.
        runtime.Open("a");
        await node.Client.WaitFinalAsync(a);
        JsonObject? held = null;
        await ResourcesApiTests.WaitUntilAsync(() =>
        {
            held = node.Client.GetJsonAsync($"/api/tasks/{small}").GetAwaiter().GetResult();
            return held["waitingFor"]?["reason"]?.GetValue<string>() == "next_in_line";
        });
        runtime.Open("b");
        await node.Client.WaitFinalAsync(big);
        await node.Client.WaitFinalAsync(small);

        Assert.Equal("queued", held!["state"]!.GetValue<string>());
        Assert.Equal(big, held["waitingFor"]!["task"]!.GetValue<string>());
        Assert.Equal([a, b, big, small], runtime.Started.ToArray());
    }

    [Fact]
    public async Task Queue_TaskEstimatedToEndBeforeTheNextInLineFits_BackfillsIntoWhatIsHeldForIt()
    {
        var (node, runtime) = await ScriptedRuntime.StartNodeAsync(new Dictionary<string, string?> { ["MAX_MEMORY_GB"] = "1" });
        await using var _ = node;
        for (var i = 0; i < 3; i++)
        {
            // Quick runs give "script" tasks a history: an estimate of a few milliseconds.
            await node.Client.SubmitAsync("""{"type":"script","requirements":{"memoryMB":64},"data":{"action":"complete"}}""", "?wait=10s");
        }

        var a = Id((await node.Client.SubmitAsync("""{"type":"script","priority":"low","requirements":{"memoryMB":512},"data":{"action":"gate","gate":"a"}}""")).Body);
        var b = Id((await node.Client.SubmitAsync("""{"type":"script","priority":"low","requirements":{"memoryMB":512},"data":{"action":"gate","gate":"b"}}""")).Body);
        await ResourcesApiTests.WaitUntilAsync(() => runtime.Started.Contains(a) && runtime.Started.Contains(b));
        var big = Id((await node.Client.SubmitAsync("""{"type":"script","priority":"high","requirements":{"memoryMB":1024},"data":{"action":"complete"}}""")).Body);
        runtime.Open("a");
        await node.Client.WaitFinalAsync(a);

        // a's 512 MB are held for the big task, which waits for b; b has run past its estimate, so it is expected to
        // end only by its deadline, and a task estimated at milliseconds ends long before that.
        var quick = Id((await node.Client.SubmitAsync("""{"type":"script","priority":"low","requirements":{"memoryMB":512},"data":{"action":"complete"}}""")).Body);
        var quickDone = await node.Client.WaitFinalAsync(quick);
        var quickStatus = await node.Client.GetJsonAsync($"/api/tasks/{quick}");
        var bigWhileBRuns = await node.Client.GetJsonAsync($"/api/tasks/{big}");
        runtime.Open("b");
        var bigDone = await node.Client.WaitFinalAsync(big);

        Assert.Equal("completed", quickDone["state"]!.GetValue<string>());
        Assert.Equal("history", quickStatus["estimate"]!["basis"]!.GetValue<string>());
        Assert.Equal("queued", bigWhileBRuns["state"]!.GetValue<string>());
        Assert.Equal("completed", bigDone["state"]!.GetValue<string>());
        Assert.Equal([a, b, quick, big], runtime.Started.Skip(3).ToArray());
    }

    [Fact]
    public async Task Status_RunningTask_ShowsReservationProgressAndTimings()
    {
        var (node, runtime) = await ScriptedRuntime.StartNodeAsync();
        await using var _ = node;
        var id = Id((await node.Client.SubmitAsync("""{"type":"script","requirements":{"cpu":0.5,"memoryMB":64},"data":{"action":"gate","gate":"g"}}""")).Body);
        await ResourcesApiTests.WaitUntilAsync(() => runtime.Started.Contains(id));
        await Task.Delay(50);

        var status = await node.Client.GetJsonAsync($"/api/tasks/{id}");
        var result = await node.Client.GetAsync($"/api/tasks/{id}/result", Timeouts.Token());
        runtime.Open("g");
        var final = await node.Client.WaitFinalAsync(id);

        Assert.Equal("running", status["state"]!.GetValue<string>());
        Assert.Equal(0.5, status["progress"]!.GetValue<double>());
        Assert.Equal(1, status["attempts"]!.GetValue<int>());
        Assert.Equal("api", status["origin"]!.GetValue<string>());
        Assert.Equal(64, status["reservation"]!["memoryMB"]!.GetValue<long>());
        Assert.NotNull(status["startedAt"]);
        Assert.Equal(HttpStatusCode.Accepted, result.StatusCode);
        Assert.True(string.CompareOrdinal(final["submittedAt"]!.GetValue<string>(), final["finishedAt"]!.GetValue<string>()) <= 0);
        Assert.Null(final["reservation"]);
    }

    [Fact]
    public async Task Result_FailedTask_Is200WithTheErrorAndUnknownIs404()
    {
        var (node, _) = await ScriptedRuntime.StartNodeAsync();
        await using var __ = node;
        var id = Id((await node.Client.SubmitAsync("""{"type":"script","data":{"action":"fail","reason":"the input is odd"}}""")).Body);
        await node.Client.WaitFinalAsync(id);

        var result = await node.Client.GetJsonAsync($"/api/tasks/{id}/result");
        var missing = await node.Client.GetAsync("/api/tasks/nope/result", Timeouts.Token());

        Assert.Equal("failed", result["state"]!.GetValue<string>());
        Assert.Null(result["result"]);
        Assert.Equal("the input is odd", result["error"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Result_AfterRetentionPeriod_Is410()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["RESULT_RETENTION_PERIOD"] = "1" });
        var id = Id((await node.Client.SubmitAsync("""{"type":"store","data":{"content":"x"}}""")).Body);
        await node.Client.WaitFinalAsync(id);
        var before = await node.Client.GetAsync($"/api/tasks/{id}/result", Timeouts.Token());

        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var after = await node.Client.GetAsync($"/api/tasks/{id}/result", Timeouts.Token());

        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(HttpStatusCode.Gone, after.StatusCode);
        Assert.Contains("RESULT_RETENTION_PERIOD", await after.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task SubmitWithWait_SameTaskAfterItsRetention_Is410LikeTheResult()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["RESULT_RETENTION_PERIOD"] = "1" });
        const string Task = """{"taskId":"kept-briefly","type":"store","data":{"content":"x"}}""";
        var (first, _) = await node.Client.SubmitAsync(Task, "?wait=5s");

        await System.Threading.Tasks.Task.Delay(TimeSpan.FromSeconds(2.5));
        var (again, problem) = await node.Client.SubmitAsync(Task, "?wait=1s");

        Assert.Equal(HttpStatusCode.OK, first);
        Assert.Equal(HttpStatusCode.Gone, again);
        Assert.Contains("RESULT_RETENTION_PERIOD", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("...")]
    public async Task Submit_TaskIdOfDotsOnly_Is422(string taskId)
    {
        await using var node = await TestNode.StartAsync();

        var (status, problem) = await node.Client.SubmitAsync($$$"""{"taskId":"{{{taskId}}}","type":"store","data":{"content":"x"}}""");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("must not be made of dots only", problem!.ToJsonString(), StringComparison.Ordinal);
        Assert.True(Directory.Exists(node.DataDirectory));
    }

    [Fact]
    public async Task Cancel_QueuedTask_IsCancelledAndAFinalTaskIs409()
    {
        await using var node = await TestNode.StartAsync();
        await node.Admin.PostAsync("/api/node/drain", null, Timeouts.Token());
        await node.Admin.PostAsync("/api/node/resume", null, Timeouts.Token());
        var done = Id((await node.Client.SubmitAsync("""{"type":"store","data":{"content":"x"}}""", "?wait=5s")).Body);

        var again = await node.Client.DeleteAsync($"/api/tasks/{done}", Timeouts.Token());
        var unknown = await node.Client.DeleteAsync("/api/tasks/nope", Timeouts.Token());

        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Drain_RunningTaskFinishesButQueuedOnesWaitUntilResume()
    {
        var (node, runtime) = await ScriptedRuntime.StartNodeAsync(new Dictionary<string, string?> { ["MAX_CONCURRENT_TASKS"] = "1" });
        await using var _ = node;
        var running = Id((await node.Client.SubmitAsync("""{"type":"script","data":{"action":"gate","gate":"r"}}""")).Body);
        var queued = Id((await node.Client.SubmitAsync("""{"type":"script","data":{"action":"complete"}}""")).Body);
        await ResourcesApiTests.WaitUntilAsync(() => runtime.Started.Contains(running));

        await node.Admin.PostAsync("/api/node/drain", null, Timeouts.Token());
        var refused = await node.Client.SubmitAsync("""{"type":"script","data":{"action":"complete"}}""");
        runtime.Open("r");
        await node.Client.WaitFinalAsync(running);
        await Task.Delay(200);
        var stillQueued = await node.Client.GetJsonAsync($"/api/tasks/{queued}");
        await node.Admin.PostAsync("/api/node/resume", null, Timeouts.Token());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
        Assert.Equal("queued", stillQueued["state"]!.GetValue<string>());
        Assert.Equal("draining", stillQueued["waitingFor"]!["reason"]!.GetValue<string>());
        Assert.Equal("completed", (await node.Client.WaitFinalAsync(queued))["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task List_FiltersByStateAndTypeAndPages()
    {
        var (node, _) = await ScriptedRuntime.StartNodeAsync();
        await using var __ = node;
        for (var i = 0; i < 5; i++)
        {
            await node.Client.SubmitAsync("""{"type":"store","data":{"content":"x"}}""", "?wait=5s");
        }

        await node.Client.SubmitAsync("""{"type":"script","data":{"action":"fail"}}""", "?wait=5s");

        var page1 = await node.Client.GetJsonAsync("/api/tasks?type=store&state=completed&limit=3");
        var page2 = await node.Client.GetJsonAsync($"/api/tasks?type=store&state=completed&limit=3&cursor={page1["nextCursor"]}");
        var failed = await node.Client.GetJsonAsync("/api/tasks?state=failed");
        var bad = await node.Client.GetAsync("/api/tasks?state=sleeping", Timeouts.Token());

        Assert.Equal(3, page1["items"]!.AsArray().Count);
        Assert.Equal(2, page2["items"]!.AsArray().Count);
        Assert.Null(page2["nextCursor"]);
        Assert.Single(failed["items"]!.AsArray());
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task Events_StreamStatesUntilTheTaskEnds()
    {
        var (node, runtime) = await ScriptedRuntime.StartNodeAsync();
        await using var _ = node;
        var id = Id((await node.Client.SubmitAsync("""{"type":"script","data":{"action":"gate","gate":"e"}}""")).Body);
        await ResourcesApiTests.WaitUntilAsync(() => runtime.Started.Contains(id));

        using var stream = await node.Client.GetStreamAsync($"/api/tasks/{id}/events", Timeouts.Token());
        using var reader = new StreamReader(stream);
        var first = await ReadEventAsync(reader);
        runtime.Open("e");
        var events = new List<(string Event, JsonObject Data)> { first };
        while (events[^1].Data["state"]?.GetValue<string>() != "completed")
        {
            events.Add(await ReadEventAsync(reader));
        }

        Assert.Equal("state", first.Event);
        Assert.Equal("running", first.Data["state"]!.GetValue<string>());
        Assert.Equal("completed", events[^1].Data["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task Restart_QueuedTasksSurviveAndRunAfterStart()
    {
        var directory = TestNode.NewDirectory();
        var ids = new List<string>();
        var (node, _) = await ScriptedRuntime.StartNodeAsync(new Dictionary<string, string?> { ["MAX_CONCURRENT_TASKS"] = "1" }, directory);
        await using (node)
        {
            ids.Add(Id((await node.Client.SubmitAsync("""{"type":"script","data":{"action":"hang"}}""")).Body));
            for (var i = 0; i < 3; i++)
            {
                ids.Add(Id((await node.Client.SubmitAsync("{\"type\":\"store\",\"data\":{\"content\":\"" + i + "\"}}")).Body));
            }

            await node.StopAsync();
        }

        var (again, _) = await ScriptedRuntime.StartNodeAsync(new Dictionary<string, string?> { ["MAX_CONCURRENT_TASKS"] = "2" }, directory);
        await using var __ = again;
        var hung = await again.Client.GetJsonAsync($"/api/tasks/{ids[0]}");
        foreach (var id in ids.Skip(1))
        {
            Assert.Equal("completed", (await again.Client.WaitFinalAsync(id))["state"]!.GetValue<string>());
        }

        Assert.Contains(hung["state"]!.GetValue<string>(), new[] { "queued", "running" });
        Assert.True(hung["attempts"]!.GetValue<int>() <= 1, "a shutdown must not count an attempt");
    }

    private static async Task<(string Event, JsonObject Data)> ReadEventAsync(StreamReader reader)
    {
        string? name = null;
        string? data = null;
        while (true)
        {
            var line = await reader.ReadLineAsync().WaitAsync(Timeouts.Short);
            if (line is null)
            {
                throw new EndOfStreamException();
            }

            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data = line[6..];
            }
            else if (line.Length == 0 && data is not null)
            {
                return (name ?? "message", JsonNode.Parse(data)!.AsObject());
            }
        }
    }
}
