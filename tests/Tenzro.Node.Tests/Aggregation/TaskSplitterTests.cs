using System.Net;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Aggregation.Split;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Tests.Runtimes.Onnx;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Aggregation;

/// <summary>
/// Split tasks on one node: the parts of a split, each run as an ordinary task, combine to the whole task's result
/// and digest (CONTRACTS "Split tasks"); what cannot split is refused with 422; without a group the task runs whole.
/// </summary>
public sealed class TaskSplitterTests
{
    /// <summary>Sums i*i over [start, end): the range comes after data.args (none here).</summary>
    private const string SquaresWat = """
        (module (func (export "squares") (param $start i64) (param $end i64) (result i64) (local $sum i64)
          (block $done (loop $next
            (br_if $done (i64.ge_s (local.get $start) (local.get $end)))
            (local.set $sum (i64.add (local.get $sum) (i64.mul (local.get $start) (local.get $start))))
            (local.set $start (i64.add (local.get $start) (i64.const 1)))
            (br $next)))
          (local.get $sum)))
        """;

    /// <summary>The largest (i * 7919) mod 10007 over [start, end).</summary>
    private const string PeakWat = """
        (module (func (export "peak") (param $start i64) (param $end i64) (result i64) (local $best i64) (local $v i64)
          (block $done (loop $next
            (br_if $done (i64.ge_s (local.get $start) (local.get $end)))
            (local.set $v (i64.rem_u (i64.mul (local.get $start) (i64.const 7919)) (i64.const 10007)))
            (if (i64.gt_u (local.get $v) (local.get $best)) (then (local.set $best (local.get $v))))
            (local.set $start (i64.add (local.get $start) (i64.const 1)))
            (br $next)))
          (local.get $best)))
        """;

    public static TheoryData<string, int> Pipelines => new()
    {
        { """[{"op":"map","expr":"x * 3 % 1000"},{"op":"sum"}]""", 6 },
        { """[{"op":"filter","expr":"x % 7 == 0"},{"op":"count"}]""", 4 },
        { """[{"op":"map","expr":"x % 97"},{"op":"min"}]""", 5 },
        { """[{"op":"reduce","fn":"max"}]""", 3 },
        { """[{"op":"hash","scope":"each"}]""", 7 },
        { """[{"op":"map","expr":"x * 2"},{"op":"filter","expr":"x % 3 == 1"}]""", 64 },
    };

    [Theory]
    [MemberData(nameof(Pipelines))]
    public async Task SplitProcessTask_CombinesToTheWholeTasksDigest(string pipeline, int parts)
    {
        await using var node = await TestNode.StartAsync();
        var whole = new JsonObject
        {
            ["type"] = "process",
            ["data"] = new JsonObject { ["input"] = new JsonArray([.. Enumerable.Range(1, 2000).Select(i => (JsonNode)i)]), ["pipeline"] = JsonNode.Parse(pipeline) },
            ["config"] = new JsonObject { ["split"] = new JsonObject { ["parts"] = parts } },
        };

        var (expected, combined) = await RunWholeAndSplitAsync(node, whole);

        Assert.Equal(CanonicalJson.Digest(expected), CanonicalJson.Digest(combined));
    }

    [Theory]
    [InlineData("squares", "sum", 4)]
    [InlineData("peak", "max", 3)]
    public async Task SplitComputeRange_CombinesToTheWholeRangesDigest(string entry, string combine, int parts)
    {
        await using var node = await TestNode.StartAsync();
        var whole = new JsonObject
        {
            ["type"] = "compute",
            ["data"] = new JsonObject { ["wat"] = entry == "squares" ? SquaresWat : PeakWat, ["entry"] = entry },
            ["config"] = new JsonObject { ["split"] = new JsonObject { ["parts"] = parts, ["range"] = new JsonArray(0, 100_001), ["combine"] = combine } },
        };

        var (expected, combined) = await RunWholeAndSplitAsync(node, whole);

        Assert.Equal(CanonicalJson.Digest(expected), CanonicalJson.Digest(combined));
        Assert.NotEqual(0, expected["returns"]![0]!.GetValue<long>());
    }

    [Fact]
    public async Task SplitInferenceBatch_CombinesToTheWholeBatchsOutputsWithinTolerance()
    {
        await using var node = await TestNode.StartAsync();
        var model = await node.Client.UploadAsync(ModelApi.CommittedModel("mlp.onnx"));
        var batch = new JsonArray([.. Enumerable.Range(0, 7).Select(i => (JsonNode)new JsonObject
        {
            ["x"] = ModelApi.FloatTensor([1, 4], [i * 0.5f, -1 + i, 2 - (0.25f * i), 0.125f * i]),
        })]);
        var whole = new JsonObject
        {
            ["type"] = "inference",
            ["data"] = new JsonObject { ["model"] = model, ["batch"] = batch },
            ["config"] = new JsonObject { ["split"] = new JsonObject { ["parts"] = 3 } },
        };

        var (expected, combined) = await RunWholeAndSplitAsync(node, whole);

        var wholeOutputs = expected["outputs"]!.AsArray();
        var splitOutputs = combined["outputs"]!.AsArray();
        Assert.Equal(7, splitOutputs.Count);
        for (var i = 0; i < wholeOutputs.Count; i++)
        {
            var a = ModelApi.Floats(wholeOutputs[i]!["y"]);
            var b = ModelApi.Floats(splitOutputs[i]!["y"]);
            Assert.Equal(a.Length, b.Length);
            Assert.All(a.Zip(b), pair => Assert.True(Math.Abs(pair.First - pair.Second) <= 1e-5 * Math.Max(1, Math.Abs(pair.First)), $"{pair.First} vs {pair.Second}"));
        }
    }

    [Fact]
    public async Task SplitTrainTask_IsOneFederatedRound_EqualToTheAggregateTasksFederatedAverage()
    {
        await using var node = await TestNode.StartAsync();
        var rows = Enumerable.Range(0, 30).Select(i => (X: i / 10.0, Y: (i % 7) / 7.0)).ToList();
        var parent = new JsonObject
        {
            ["type"] = "train",
            ["data"] = new JsonObject
            {
                ["model"] = "linear",
                ["features"] = new JsonArray([.. rows.Select(r => (JsonNode)new JsonArray(r.X, r.Y))]),
                ["labels"] = new JsonArray([.. rows.Select(r => (JsonNode)((2 * r.X) - r.Y + 0.5))]),
                ["hyperparameters"] = new JsonObject { ["epochs"] = 5, ["learningRate"] = 0.05, ["seed"] = 3 },
            },
            ["config"] = new JsonObject { ["split"] = new JsonObject { ["parts"] = 3 } },
        };
        var spec = TaskParser.Parse(parent, TimeSpan.FromSeconds(1800), ["train"], TaskOrigins.Api, new ValidationErrors())!;
        var request = SplitRequest.Read(spec, new ValidationErrors())!;
        var ids = new List<string>();
        var results = new List<JsonObject>();
        foreach (var part in TaskSplitter.Split(spec, request))
        {
            var (status, submitted) = await node.Client.SubmitAsync(part.ToJsonString());
            Assert.Equal(HttpStatusCode.Accepted, status);
            ids.Add(submitted!["taskId"]!.GetValue<string>());
            await node.Client.WaitFinalAsync(ids[^1]);
            results.Add((await node.Client.GetJsonAsync($"/api/tasks/{ids[^1]}/result"))["result"]!.AsObject());
        }

        var combined = TaskSplitter.Combine(spec, request, results);
        var (_, aggregate) = await node.Client.SubmitAsync(new JsonObject
        {
            ["type"] = "aggregate",
            ["data"] = new JsonObject { ["strategy"] = "federated_average", ["taskIds"] = new JsonArray([.. ids.Select(i => (JsonNode)i)]) },
        }.ToJsonString());
        await node.Client.WaitFinalAsync(aggregate!["taskId"]!.GetValue<string>());
        var value = (await node.Client.GetJsonAsync($"/api/tasks/{aggregate["taskId"]!.GetValue<string>()}/result"))["result"]!["value"]!;

        Assert.Equal(CanonicalJson.Digest(value["parameters"]), CanonicalJson.Digest(combined["parameters"]));
        Assert.Equal(30, combined["sampleCount"]!.GetValue<double>());
        Assert.Equal(3, combined["federated"]!["parts"]!.GetValue<int>());
    }

    [Fact]
    public async Task SplitWithoutAGroup_RunsWholeAndSaysWhy()
    {
        await using var node = await TestNode.StartAsync();
        var (status, submitted) = await node.Client.SubmitAsync("""{"type":"process","data":{"input":[1,2,3],"pipeline":[{"op":"sum"}]},"config":{"split":{"parts":2}}}""");
        Assert.Equal(HttpStatusCode.Accepted, status);

        var final = await node.Client.WaitFinalAsync(submitted!["taskId"]!.GetValue<string>());

        Assert.Equal("completed", final["state"]!.GetValue<string>());
        Assert.False(final["split"]!["applied"]!.GetValue<bool>());
        Assert.Equal("no group", final["split"]!["reason"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"type":"process","data":{"input":[3,1,2],"pipeline":[{"op":"sort"}]},"config":{"split":{"parts":2}}}""", "config.split")]
    [InlineData("""{"type":"process","data":{"input":[3,1,2],"pipeline":[{"op":"mean"}]},"config":{"split":{"parts":2}}}""", "config.split")]
    [InlineData("""{"type":"compute","data":{"wat":"(module)","entry":"f"},"config":{"split":{"parts":2}}}""", "config.split.range")]
    [InlineData("""{"type":"process","data":{"input":[1],"pipeline":[{"op":"sum"}]},"config":{"split":{"parts":0}}}""", "config.split.parts")]
    [InlineData("""{"type":"train","data":{"model":"linear","dataBlob":"0000000000000000000000000000000000000000000000000000000000000000"},"config":{"split":{"parts":2}}}""", "config.split")]
    [InlineData("""{"type":"process","data":{"input":[1],"pipeline":[{"op":"sum"}]},"config":{"split":{"parts":2},"redundancy":9}}""", "config.redundancy")]
    public async Task UnsplittableTask_Is422WithTheField(string body, string field)
    {
        await using var node = await TestNode.StartAsync();

        var (status, problem) = await node.Client.SubmitAsync(body);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.True(problem!["errors"]![field] is not null, problem.ToJsonString());
    }

    [Fact]
    public async Task SplitPartsOfAWrongType_Is400()
    {
        await using var node = await TestNode.StartAsync();

        var (status, _) = await node.Client.SubmitAsync("""{"type":"process","data":{"input":[1],"pipeline":[{"op":"sum"}]},"config":{"split":{"parts":"four"}}}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
    }

    /// <summary>Runs the task whole, then each of its parts as its own task, and combines the parts' results.</summary>
    private static async Task<(JsonObject Whole, JsonObject Combined)> RunWholeAndSplitAsync(TestNode node, JsonObject task)
    {
        var whole = await ResultAsync(node, task);
        var spec = TaskParser.Parse(task, TimeSpan.FromSeconds(1800), ["process", "compute", "inference"], TaskOrigins.Api, new ValidationErrors())!;
        var request = SplitRequest.Read(spec, new ValidationErrors())!;
        var results = new List<JsonObject>();
        foreach (var part in TaskSplitter.Split(spec, request))
        {
            results.Add(await ResultAsync(node, part));
        }

        return (whole, TaskSplitter.Combine(spec, request, results));
    }

    private static async Task<JsonObject> ResultAsync(TestNode node, JsonObject task)
    {
        var (status, submitted) = await node.Client.SubmitAsync(task.ToJsonString());
        Assert.True(status == HttpStatusCode.Accepted, $"{(int)status}: {submitted?.ToJsonString()}");
        var id = submitted!["taskId"]!.GetValue<string>();
        var final = await node.Client.WaitFinalAsync(id);
        Assert.True(final["state"]!.GetValue<string>() == "completed", final.ToJsonString());
        var result = await node.Client.GetJsonAsync($"/api/tasks/{id}/result");
        Assert.Equal(CanonicalJson.Digest(result["result"]), result["digest"]!.GetValue<string>());
        return result["result"]!.AsObject();
    }
}
