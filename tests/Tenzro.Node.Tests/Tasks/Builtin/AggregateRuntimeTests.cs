using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Core.Tasks.Builtin;
using Tenzro.Node.Tests.Support;
using static Tenzro.Node.Tests.Tasks.Builtin.RuntimeHarness;

namespace Tenzro.Node.Tests.Tasks.Builtin;

[Trait("Suite", "tasks")]
public sealed class AggregateRuntimeTests : IAsyncLifetime
{
    private readonly string _directory = TestNode.NewDirectory();
    private TaskStore _store = null!;
    private AggregateRuntime _runtime = null!;

    public Task InitializeAsync()
    {
        var database = new NodeDatabase(Path.Combine(_directory, "node.db"));
        database.Migrate(Migrations.All);
        _store = new TaskStore(database);
        _runtime = new AggregateRuntime(_store);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private Task<JsonObject> AggregateAsync(string data) => ExecuteAsync(_runtime, $$$"""{"type":"aggregate","data":{{{data}}}}""");

    [Fact]
    public async Task TaskIds_OfAnotherOwner_AreNotKnown()
    {
        await StoreOtherOwnersResultAsync("other-owners-task");

        var message = await FailureAsync(_runtime, """{"type":"aggregate","data":{"strategy":"concat","taskIds":["other-owners-task"]}}""");

        Assert.Equal("data.taskIds[0] ('other-owners-task'): no task with this id is known on this node", message);
    }

    [Fact]
    public async Task Validate_TaskIdOfAnotherOwner_IsNotKnown()
    {
        await StoreOtherOwnersResultAsync("other-owners-task");
        using var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection().BuildServiceProvider();
        var validate = new ValidateRuntime(services, _store, new Core.Configuration.TaskOptions(), new Core.Resources.ResourceLedger(new Core.Resources.ResourceAmounts(4, 4096, 4096, 0, 0), TimeProvider.System), TimeProvider.System);

        var message = await FailureAsync(validate, """{"type":"validate","data":{"taskId":"other-owners-task"}}""");

        Assert.Equal("data.taskId: no task 'other-owners-task' is known on this node", message);
    }

    /// <summary>A completed task of another API key: the tasks run here (keyless loopback's) may not read its result.</summary>
    private async Task StoreOtherOwnersResultAsync(string taskId)
    {
        var others = Spec(_runtime, $$$"""{"taskId":"{{{taskId}}}","type":"aggregate","data":{"strategy":"sum","inputs":[1]}}""") with { Owner = "otherkey1" };
        var now = DateTimeOffset.UtcNow;
        await _store.InsertAsync(new TaskRecord { Spec = others, ContentHash = TaskParser.ContentHash(others), SubmittedAt = now });
        await _store.MarkFinishedAsync(taskId, TaskState.Completed, now, now.AddHours(1), """{"secret":42}""", new string('a', 64), null);
    }

    [Theory]
    [InlineData("sum", "[1,2,3.5]", "6.5")]
    [InlineData("average", "[1,2,3,4]", "2.5")]
    [InlineData("median", "[3,1,2]", "2")]
    [InlineData("median", "[4,1,3,2]", "2.5")]
    [InlineData("sum", "[[1,2],[10,20]]", "[11,22]")]
    [InlineData("average", """[{"a":1,"b":[2]},{"b":[4],"a":3}]""", """{"a":2,"b":[3]}""")]
    [InlineData("concat", """["ab","cd"]""", "\"abcd\"")]
    [InlineData("concat", """[[1,2],[3],4,"x"]""", """[1,2,3,4,"x"]""")]
    public async Task Combine_Strategy_GivesValueAndCount(string strategy, string inputs, string expected)
    {
        var result = await AggregateAsync($$$"""{"strategy":"{{{strategy}}}","inputs":{{{inputs}}}}""");

        Assert.Equal(expected, Json(result["value"]));
        Assert.Equal(JsonNode.Parse(inputs)!.AsArray().Count, result["count"]!.GetValue<int>());
    }

    [Fact]
    public async Task Majority_ClearWinner_ReportsVotes()
    {
        var result = await AggregateAsync("""{"strategy":"majority","inputs":["b","a","b",{"k":1},"b",{"k":1}]}""");

        Assert.Equal("\"b\"", Json(result["value"]));
        Assert.Equal("""[{"value":"b","count":3},{"value":{"k":1},"count":2},{"value":"a","count":1}]""", Json(result["votes"]));
        Assert.False(result["tie"]!.GetValue<bool>());
        Assert.Equal(6, result["count"]!.GetValue<int>());
    }

    [Fact]
    public async Task Majority_Tie_PicksTheSmallestCanonicalValueWhateverTheOrder()
    {
        var forward = await AggregateAsync("""{"strategy":"majority","inputs":[7,"x",7,"x",10]}""");
        var backward = await AggregateAsync("""{"strategy":"majority","inputs":[10,"x",7,"x",7]}""");

        // 7 and "x" have two votes each; the canonical form of "x" (with its quotes) sorts first, as '"' is 0x22 and '7' is 0x37.
        Assert.Equal("\"x\"", Json(forward["value"]));
        Assert.True(forward["tie"]!.GetValue<bool>());
        Assert.Equal(CanonicalJson.Digest(forward), CanonicalJson.Digest(backward));
    }

    [Fact]
    public async Task WeightedAverage_Weights_ScaleEachInput()
    {
        var result = await AggregateAsync("""{"strategy":"weighted_average","inputs":[1,3],"weights":[3,1]}""");

        Assert.Equal("1.5", Json(result["value"]));
    }

    [Fact]
    public async Task WeightedAverage_Arrays_AverageElementWise()
    {
        var result = await AggregateAsync("""{"strategy":"weighted_average","inputs":[[0,10],[4,20]],"weights":[1,3]}""");

        Assert.Equal("[3,17.5]", Json(result["value"]));
    }

    [Fact]
    public void Validate_WeightsOfWrongLength_AreRejected()
    {
        var errors = Validate(_runtime, """{"type":"aggregate","data":{"strategy":"weighted_average","inputs":[1,2],"weights":[1]}}""");

        Assert.Equal("data.weights: has 1 weight(s) for 2 input(s) (data.inputs, then data.taskIds); give one per input.", errors.ToString());
    }

    [Fact]
    public async Task FederatedAverage_TrainingUpdates_AverageBySampleCount()
    {
        var result = await AggregateAsync("""
            {"strategy":"federated_average","inputs":[
              {"parameters":{"w":[1,2],"b":[0]},"sampleCount":1},
              {"parameters":{"w":[3,4],"b":[4]},"sampleCount":3}]}
            """);

        Assert.Equal("""{"b":[3],"w":[2.5,3.5]}""", Json(result["value"]!["parameters"]));
        Assert.Equal(4, result["value"]!["sampleCount"]!.GetValue<double>());
        Assert.Equal(2, result["count"]!.GetValue<int>());
    }

    [Fact]
    public async Task FederatedAverage_ShapesDiffer_FailsNamingTheInput()
    {
        var message = await FailureAsync(_runtime, """
            {"type":"aggregate","data":{"strategy":"federated_average","inputs":[
              {"parameters":{"w":[1,2]},"sampleCount":1},
              {"parameters":{"w":[3]},"sampleCount":1}]}}
            """);

        Assert.Equal("data.inputs[1].parameters.w is an array, where federated_average needs an array of 2 element(s) as in data.inputs[0].parameters.w", message);
    }

    [Fact]
    public async Task FederatedAverage_NotAnUpdate_Fails()
    {
        var message = await FailureAsync(_runtime, """{"type":"aggregate","data":{"strategy":"federated_average","inputs":[{"w":[1]}]}}""");

        Assert.StartsWith("data.inputs[0] is not a training update", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sum_NonNumber_FailsNamingTheInput()
    {
        var message = await FailureAsync(_runtime, """{"type":"aggregate","data":{"strategy":"sum","inputs":[1,"2"]}}""");

        Assert.Equal("data.inputs[1] is a string, where sum needs a number", message);
    }

    [Fact]
    public async Task RegionalForm_InputAndConfigStrategy_AreAccepted()
    {
        var result = await AggregateAsync("""{"input":[2,4],"config":{"strategy":"average"}}""");

        Assert.Equal("3", Json(result["value"]));
    }

    [Theory]
    [InlineData("""{"strategy":"vote","inputs":[1]}""", "data.strategy")]
    [InlineData("""{"inputs":[1]}""", "data.strategy")]
    [InlineData("""{"strategy":"sum"}""", "data.inputs")]
    [InlineData("""{"strategy":"sum","inputs":[1],"path":"a..b"}""", "data.path")]
    [InlineData("""{"strategy":"weighted_average","inputs":[1]}""", "data.weights")]
    [InlineData("""{"strategy":"weighted_average","inputs":[1],"weights":[-1]}""", "data.weights[0]")]
    public void Validate_BadRequest_NamesTheField(string data, string field)
    {
        var errors = Validate(_runtime, $$$"""{"type":"aggregate","data":{{{data}}}}""");

        Assert.Equal(new[] { field }, errors.ToDictionary().Keys);
    }

    [Fact]
    public async Task TaskIds_UnknownTask_FailsWithTheReason()
    {
        var message = await FailureAsync(_runtime, """{"type":"aggregate","data":{"strategy":"sum","taskIds":["t-nowhere"]}}""");

        Assert.Equal("data.taskIds[0] ('t-nowhere'): no task with this id is known on this node", message);
    }
}
