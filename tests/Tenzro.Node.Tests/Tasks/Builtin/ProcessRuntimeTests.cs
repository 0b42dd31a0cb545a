using System.Security.Cryptography;
using System.Text;
using Tenzro.Node.Core.Tasks.Builtin;
using static Tenzro.Node.Tests.Tasks.Builtin.RuntimeHarness;

namespace Tenzro.Node.Tests.Tasks.Builtin;

[Trait("Suite", "tasks")]
public sealed class ProcessRuntimeTests
{
    private readonly ProcessRuntime _runtime = new();

    private async Task<string> OutputAsync(string input, string pipeline) =>
        Json((await ExecuteAsync(_runtime, $$$"""{"type":"process","data":{"input":{{{input}}},"pipeline":{{{pipeline}}}}}"""))["output"]);

    [Fact]
    public async Task Map_Expression_TransformsEachItem()
    {
        Assert.Equal("[3,5,7]", await OutputAsync("[1,2,3]", """[{"op":"map","expr":"x * 2 + 1"}]"""));
    }

    [Fact]
    public async Task Map_FieldPath_PicksValuesAndObjects()
    {
        Assert.Equal("""[{"a":1},{"a":2}]""", await OutputAsync("""[{"v":{"a":1}},{"v":{"a":2}}]""", """[{"op":"map","expr":"x.v"}]"""));
    }

    [Fact]
    public async Task Filter_Comparison_KeepsMatchingItemsInOrder()
    {
        Assert.Equal("[4,6,5]", await OutputAsync("[1,4,6,2,5,3]", """[{"op":"filter","expr":"x > 3"}]"""));
    }

    [Fact]
    public async Task Filter_NonBooleanExpression_FailsNamingTheItem()
    {
        var message = await FailureAsync(_runtime, """{"type":"process","data":{"input":[1,2],"pipeline":[{"op":"filter","expr":"x + 1"}]}}""");

        Assert.Equal("data.pipeline[0].expr: item 0: a filter must give true or false, got a number", message);
    }

    [Fact]
    public async Task Sort_ByKeyDescending_IsStableForEqualKeys()
    {
        const string input = """[{"id":"a","price":2},{"id":"b","price":5},{"id":"c","price":2},{"id":"d","price":9}]""";

        var output = await OutputAsync(input, """[{"op":"sort","order":"desc","key":"x.price"},{"op":"map","expr":"x.id"}]""");

        Assert.Equal("""["d","b","a","c"]""", output);
    }

    [Fact]
    public async Task Sort_MixedKinds_UsesTheDocumentedOrder()
    {
        Assert.Equal("""[null,false,true,-1,2,"B","a",[1],{"k":1}]""", await OutputAsync("""["a",2,{"k":1},true,null,"B",[1],false,-1]""", """[{"op":"sort"}]"""));
    }

    [Fact]
    public async Task Distinct_KeepsFirstOfEachCanonicalValue()
    {
        Assert.Equal("""[1,2,"1",{"a":1,"b":2}]""", await OutputAsync("""[1,2,1.0,"1",2,{"a":1,"b":2},{"b":2,"a":1}]""", """[{"op":"distinct"}]"""));
    }

    [Fact]
    public async Task Distinct_ByKey_KeepsFirstItemPerKey()
    {
        Assert.Equal("""[{"k":"a","n":1},{"k":"b","n":2}]""", await OutputAsync("""[{"k":"a","n":1},{"k":"b","n":2},{"k":"a","n":3}]""", """[{"op":"distinct","key":"x.k"}]"""));
    }

    [Fact]
    public async Task Group_ByKey_CountsItemsPerKey()
    {
        const string input = """[{"kind":"b"},{"kind":"a"},{"kind":"b"},{"kind":3},{}]""";

        Assert.Equal("""{"3":1,"a":1,"b":2,"null":1}""", await OutputAsync(input, """[{"op":"group","key":"x.kind"}]"""));
    }

    [Theory]
    [InlineData("sum", "8")]
    [InlineData("min", "0")]
    [InlineData("max", "4")]
    [InlineData("mean", "2")]
    [InlineData("count", "4")]
    public async Task Reduce_Function_GivesOneNumber(string function, string expected)
    {
        Assert.Equal(expected, await OutputAsync("[4,1,3,0]", $$$"""[{"op":"reduce","fn":"{{{function}}}"}]"""));
    }

    [Theory]
    [InlineData("sum", "0")]
    [InlineData("count", "0")]
    [InlineData("mean", "null")]
    [InlineData("min", "null")]
    public async Task Reduce_NoItems_GivesTheDocumentedEmptyValue(string function, string expected)
    {
        Assert.Equal(expected, await OutputAsync("[]", $$$"""[{"op":"reduce","fn":"{{{function}}}"}]"""));
    }

    [Fact]
    public async Task Reduce_ByKey_ReadsNumbersFromItems()
    {
        Assert.Equal("7.5", await OutputAsync("""[{"price":2.5},{"price":5}]""", """[{"op":"sum","key":"x.price"}]"""));
    }

    [Fact]
    public async Task Reduce_NonNumberItem_FailsNamingTheItem()
    {
        var message = await FailureAsync(_runtime, """{"type":"process","data":{"input":[1,"two",3],"pipeline":[{"op":"reduce","fn":"sum"}]}}""");

        Assert.StartsWith("data.pipeline[0]: item 1 is a string; sum needs numbers", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Hash_Each_DigestsTheCanonicalJsonOfEachItem()
    {
        var output = await OutputAsync("""["a",{"b":1,"a":2}]""", """[{"op":"hash","algorithm":"sha256"}]""");

        Assert.Equal($"[\"{Sha256("\"a\"")}\",\"{Sha256("{\"a\":2,\"b\":1}")}\"]", output);
    }

    [Fact]
    public async Task Hash_Whole_DigestsTheCanonicalJsonOfTheArray()
    {
        var output = await OutputAsync("[1,2.50,{\"z\":1,\"y\":[true]}]", """[{"op":"hash","scope":"whole"}]""");

        Assert.Equal($"\"{Sha256("[1,2.5,{\"y\":[true],\"z\":1}]")}\"", output);
    }

    [Fact]
    public async Task Pipeline_SeveralStages_RunInOrderAndReportProgress()
    {
        var progress = new RecordingProgress();
        const string task = """
            {"type":"process","data":{"input":[5,1,4,2,3,4],"pipeline":[
              {"op":"map","expr":"x * 2 + 1"},{"op":"filter","expr":"x > 3"},{"op":"distinct"},
              {"op":"sort","order":"desc"},{"op":"reduce","fn":"sum"}]}}
            """;

        var result = await ExecuteAsync(_runtime, task, progress);

        Assert.Equal("""{"output":32}""", result.ToJsonString());
        Assert.Equal(progress.Values.Order().ToList(), progress.Values);
        Assert.True(progress.Values.Count >= 4, $"{progress.Values.Count} progress reports");
        Assert.Equal(1, progress.Values[^1]);
    }

    [Fact]
    public async Task Map_DivisionByZero_FailsNamingStageItemAndPosition()
    {
        var message = await FailureAsync(_runtime, """{"type":"process","data":{"input":[2,1,0],"pipeline":[{"op":"map","expr":"10 / x"}]}}""");

        Assert.Equal("data.pipeline[0].expr: item 2: division by zero at position 4", message);
    }

    [Fact]
    public async Task Execute_NumberBeyondDoubleRange_FailsNamingTheItem()
    {
        var message = await FailureAsync(_runtime, """{"type":"process","data":{"input":[1,1e400],"pipeline":[{"op":"sum"}]}}""");

        Assert.Equal("data.input[1]: the number 1e400 is too large for a double", message);
    }

    [Theory]
    [InlineData("""{"input":[1,2,3],"config":{"op":"sum"}}""", "6")]
    [InlineData("""{"input":[1,2,3],"config":{"op":"average"}}""", "2")]
    [InlineData("""{"input":[3,1,2],"config":{"op":"sort","order":"desc"}}""", "[3,2,1]")]
    [InlineData("""{"input":[1,2,3],"config":{"op":"map","expr":"x * x"}}""", "[1,4,9]")]
    public async Task Shorthand_DataConfigOp_RunsOneOperation(string data, string expected)
    {
        var result = await ExecuteAsync(_runtime, $$$"""{"type":"process","data":{{{data}}}}""");

        Assert.Equal(expected, Json(result["output"]));
    }

    [Fact]
    public async Task Shorthand_TaskConfigOp_RunsOneOperation()
    {
        var result = await ExecuteAsync(_runtime, """{"type":"process","data":{"input":[1,5,2]},"config":{"op":"max"}}""");

        Assert.Equal("5", Json(result["output"]));
    }

    [Fact]
    public void Validate_UnknownOperation_NamesTheFieldAndTheChoices()
    {
        var errors = Validate(_runtime, """{"type":"process","data":{"input":[1],"pipeline":[{"op":"map","expr":"x"},{"op":"sort"},{"op":"frobnicate"}]}}""");

        var message = Assert.Single(errors.ToDictionary()["data.pipeline[2].op"]);
        Assert.Equal("'frobnicate' is not an operation; expected one of map, filter, sort, distinct, group, reduce, hash, sum, min, max, mean, average, count.", message);
    }

    [Fact]
    public void Validate_UnknownShorthandOperation_NamesDataConfigOp()
    {
        var errors = Validate(_runtime, """{"type":"process","data":{"input":[1],"config":{"op":"median"}}}""");

        Assert.Contains("data.config.op", errors.ToDictionary().Keys);
    }

    [Fact]
    public void Validate_BadExpression_NamesTheFieldAndPosition()
    {
        var errors = Validate(_runtime, """{"type":"process","data":{"input":[1],"pipeline":[{"op":"filter","expr":"x >> 2"}]}}""");

        Assert.Equal("data.pipeline[0].expr: expected a number, a string, x, a function or '(', found '>' at position 4.", errors.ToString());
    }

    [Fact]
    public void Validate_ExpressionOverTheLimit_IsRejected()
    {
        var expression = "x" + string.Concat(Enumerable.Repeat(" + 1", 250));

        var errors = Validate(_runtime, $$$"""{"type":"process","data":{"input":[1],"pipeline":[{"op":"map","expr":"{{{expression}}}"}]}}""");

        Assert.Contains("the limit is 1000", errors.ToDictionary()["data.pipeline[0].expr"][0], StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_TooManyStages_IsRejected()
    {
        var stages = string.Join(",", Enumerable.Repeat("""{"op":"distinct"}""", 33));

        var errors = Validate(_runtime, $$$"""{"type":"process","data":{"input":[1],"pipeline":[{{{stages}}}]}}""");

        Assert.Equal("data.pipeline: has 33 operations; the limit is 32.", errors.ToString());
    }

    [Fact]
    public void Validate_TooManyItems_IsRejected()
    {
        var input = "[" + string.Join(",", Enumerable.Repeat("0", 1_000_001)) + "]";

        var errors = Validate(_runtime, $$$"""{"type":"process","data":{"input":{{{input}}},"pipeline":[{"op":"count"}]}}""");

        Assert.Equal("data.input: has 1000001 items; the limit is 1000000.", errors.ToString());
    }

    [Fact]
    public void Validate_StageAfterAReduction_IsRejected()
    {
        var errors = Validate(_runtime, """{"type":"process","data":{"input":[1],"pipeline":[{"op":"sum"},{"op":"sort"}]}}""");

        Assert.Contains("gives a single value; it must be the last operation", errors.ToDictionary()["data.pipeline[1]"][0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"pipeline":[{"op":"count"}]}""", "data.input")]
    [InlineData("""{"input":[1]}""", "data.pipeline")]
    [InlineData("""{"input":[1],"pipeline":[{"op":"map"}]}""", "data.pipeline[0].expr")]
    [InlineData("""{"input":[1],"pipeline":[{"op":"reduce","fn":"product"}]}""", "data.pipeline[0].fn")]
    [InlineData("""{"input":[1],"pipeline":[{"op":"sort","order":"up"}]}""", "data.pipeline[0].order")]
    [InlineData("""{"input":[1],"pipeline":[{"op":"hash","algorithm":"md5"}]}""", "data.pipeline[0].algorithm")]
    [InlineData("""{"input":[1],"pipeline":[{"expr":"x"}]}""", "data.pipeline[0].op")]
    public void Validate_MissingOrBadField_NamesIt(string data, string field)
    {
        var errors = Validate(_runtime, $$$"""{"type":"process","data":{{{data}}}}""");

        Assert.Equal(new[] { field }, errors.ToDictionary().Keys);
    }

    [Fact]
    public async Task Execute_CancelledToken_Stops()
    {
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            ExecuteAsync(_runtime, """{"type":"process","data":{"input":[1,2],"pipeline":[{"op":"map","expr":"x"}]}}""", cancellationToken: cancellation.Token));
    }

    [Fact]
    public async Task Execute_LeavesTheTaskDataUnchanged()
    {
        var spec = Spec(_runtime, """{"type":"process","data":{"input":[{"a":1},{"a":2}],"pipeline":[{"op":"map","expr":"x"},{"op":"sort","order":"desc","key":"x.a"}]}}""");
        var before = spec.Data.ToJsonString();
        var context = new Core.Tasks.TaskExecutionContext
        {
            Task = spec,
            CancellationToken = Support.Timeouts.Token(),
            Deadline = DateTimeOffset.UtcNow.AddMinutes(1),
            Progress = new RecordingProgress(),
            ScratchDirectory = Path.GetTempPath(),
        };

        var first = await _runtime.ExecuteAsync(context);
        var second = await _runtime.ExecuteAsync(context);

        Assert.Equal("""{"output":[{"a":2},{"a":1}]}""", first.ToJsonString());
        Assert.Equal(first.ToJsonString(), second.ToJsonString());
        Assert.Equal(before, spec.Data.ToJsonString());
    }

    private static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
