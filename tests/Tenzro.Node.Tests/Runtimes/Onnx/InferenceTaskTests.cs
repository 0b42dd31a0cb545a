using System.Net;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.ModelGen;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Runtimes.Onnx;

[Trait("Suite", "inference")]
public sealed class InferenceTaskTests : IAsyncLifetime
{
    // The weights of tests/models/linear.onnx, written out here so the expected values do not come from the generator.
    private static readonly double[,] W = { { 0.5, -1 }, { 0.25, 2 }, { -0.75, 0.125 }, { 1.5, -0.5 } };
    private static readonly double[] B = [0.1, -0.2];

    private TestNode _node = null!;
    private string _linear = null!;

    public async Task InitializeAsync()
    {
        _node = await TestNode.StartAsync();
        _linear = await _node.Client.UploadAsync(ModelApi.CommittedModel("linear.onnx"));
    }

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task Inference_LinearModel_EqualsXTimesWPlusB()
    {
        float[] x = [1, 2, 3, 4, -0.5f, 0.25f, 8, -2];

        var result = await _node.Client.RunAsync(ModelApi.InferenceTask(_linear, new JsonObject { ["x"] = ModelApi.FloatTensor([2, 4], x) }));

        Assert.Equal("completed", result["state"]!.GetValue<string>());
        var y = result["result"]!["outputs"]!["y"];
        Assert.Equal("float32", y!["type"]!.GetValue<string>());
        Assert.Equal([2L, 2L], ModelApi.Shape(y));
        AssertClose(Linear(x), ModelApi.Floats(y));
        Assert.Matches("^[0-9a-f]{64}$", result["digest"]!.GetValue<string>());
    }

    [Fact]
    public async Task Inference_Base64Input_GivesTheSameOutputsAsAJsonArray()
    {
        float[] x = [0.1f, -0.2f, 0.3f, 10];
        var bytes = new byte[x.Length * sizeof(float)];
        Buffer.BlockCopy(x, 0, bytes, 0, bytes.Length);
        var base64 = new JsonObject { ["type"] = "float32", ["shape"] = new JsonArray(1, 4), ["data"] = Convert.ToBase64String(bytes) };

        var fromBase64 = await _node.Client.RunAsync(ModelApi.InferenceTask(_linear, new JsonObject { ["x"] = base64 }));
        var fromArray = await _node.Client.RunAsync(ModelApi.InferenceTask(_linear, new JsonObject { ["x"] = ModelApi.FloatTensor([1, 4], x) }));

        AssertClose(Linear(x), ModelApi.Floats(fromBase64["result"]!["outputs"]!["y"]));
        Assert.Equal(fromArray["digest"]!.GetValue<string>(), fromBase64["digest"]!.GetValue<string>());
    }

    [Fact]
    public async Task Inference_MlpModel_EqualsTheForwardPassComputedInCSharp()
    {
        var mlp = await _node.Client.UploadAsync(ModelApi.CommittedModel("mlp.onnx"));
        float[] x = [0.5f, -1, 2, 0.25f, 1, 1, 1, 1, -3, 0, 0.75f, 2];

        var result = await _node.Client.RunAsync(ModelApi.InferenceTask(mlp, new JsonObject { ["x"] = ModelApi.FloatTensor([3, 4], x) }));

        var y = result["result"]!["outputs"]!["y"];
        Assert.Equal([3L, 3L], ModelApi.Shape(y));
        AssertClose(MlpForward(x, 3), ModelApi.Floats(y));
    }

    [Fact]
    public async Task Inference_NaNAndInfinityInputs_AreStringsInTheOutput()
    {
        var x = new JsonObject { ["type"] = "float32", ["shape"] = new JsonArray(1, 4), ["data"] = new JsonArray("NaN", 0, 0, "Infinity") };

        var result = await _node.Client.RunAsync(ModelApi.InferenceTask(_linear, new JsonObject { ["x"] = x }));

        Assert.Equal("completed", result["state"]!.GetValue<string>());
        var data = result["result"]!["outputs"]!["y"]!["data"]!.AsArray();
        Assert.Equal("NaN", data[0]!.GetValue<string>());
        Assert.Equal("NaN", data[1]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"x":{"type":"int32","shape":[1,4],"data":[1,2,3,4]}}""", "data.inputs.x", "type int32 given, model expects float32")]
    [InlineData("""{"x":{"type":"float32","shape":[1,3],"data":[1,2,3]}}""", "data.inputs.x", "dimension 1 must be 4")]
    [InlineData("""{"x":{"type":"float32","shape":[4],"data":[1,2,3,4]}}""", "data.inputs.x", "rank 2")]
    [InlineData("""{"x":{"type":"float32","shape":[2,4],"data":[1,2,3,4]}}""", "data.inputs.x", "data has 4 values, shape [2,4] needs 8")]
    [InlineData("""{"x":{"type":"float32","shape":[1,4],"data":"AAAA"}}""", "data.inputs.x", "data has 3 bytes")]
    [InlineData("""{"x":{"type":"float32","shape":[1,4],"data":[1,2,"three",4]}}""", "data.inputs.x", "data[2]")]
    [InlineData("""{"z":{"type":"float32","shape":[1,4],"data":[1,2,3,4]}}""", "data.inputs.z", "the model has no input 'z'")]
    [InlineData("""{}""", "data.inputs.x", "is required: the model takes x float32 [-1,4]")]
    public async Task Submit_InputThatDoesNotMatchTheModel_Answers422NamingTheInput(string inputs, string field, string message)
    {
        var task = new JsonObject { ["type"] = "inference", ["data"] = new JsonObject { ["model"] = _linear, ["inputs"] = JsonNode.Parse(inputs) } };

        var (status, body) = await _node.Client.SubmitAsync(task.ToJsonString());

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        var errors = body!["errors"]![field]!.AsArray().Select(e => e!.GetValue<string>()).ToList();
        Assert.Contains(errors, e => e.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Submit_AsksForAGpuOnANodeSetToTheCpu_Answers422NamingTheSetting_AndCpuTasksRunWithTheSetThreads()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["ONNX_EXECUTION_PROVIDER"] = "cpu", ["ONNX_THREADS"] = "2" });
        var model = await node.Client.UploadAsync(ModelApi.CommittedModel("linear.onnx"));
        var inputs = new JsonObject { ["x"] = ModelApi.FloatTensor([1, 4], 1, 2, 3, 4) };

        var (status, body) = await node.Client.SubmitAsync(ModelApi.InferenceTask(model, inputs, new JsonObject { ["gpuCount"] = 1 }).ToJsonString());
        var onCpu = await node.Client.SubmitAsync(ModelApi.InferenceTask(model, inputs.DeepClone().AsObject()).ToJsonString(), "?wait=30s");
        var threads = (await node.Client.GetJsonAsync("/api/hardware/profile"))["optimizations"]!.AsArray().Single(o => o!["name"]!.GetValue<string>() == "ONNX_THREADS")!;

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        var errors = body!["errors"]!["requirements.gpuCount"]!.AsArray().Select(e => e!.GetValue<string>()).ToList();
        Assert.Contains(errors, e => e.Contains("ONNX_EXECUTION_PROVIDER=cpu", StringComparison.Ordinal));
        Assert.Equal("completed", onCpu.Body!["state"]!.GetValue<string>());
        Assert.Equal("intra-op 2, inter-op 1, no spinning", threads["value"]!.GetValue<string>());
    }

    [Fact]
    public async Task Submit_UnknownModel_Answers422OnDataModel()
    {
        var unknown = new string('e', 64);

        var (status, body) = await _node.Client.SubmitAsync(ModelApi.InferenceTask(unknown, new JsonObject { ["x"] = ModelApi.FloatTensor([1, 4], 1, 2, 3, 4) }).ToJsonString());

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains(unknown, body!["errors"]!["data.model"]![0]!.GetValue<string>());
    }

    [Fact]
    public async Task Inference_SecondTaskOnTheSameModel_IsServedByTheSessionCache()
    {
        var before = await CacheAsync();
        var inputs = new JsonObject { ["x"] = ModelApi.FloatTensor([1, 4], 1, 2, 3, 4) };

        await _node.Client.RunAsync(ModelApi.InferenceTask(_linear, inputs));
        var afterFirst = await CacheAsync();
        await _node.Client.RunAsync(ModelApi.InferenceTask(_linear, inputs.DeepClone().AsObject()));
        var afterSecond = await CacheAsync();

        Assert.Equal(before.Loads + 1, afterFirst.Loads);
        Assert.Equal(afterFirst.Loads, afterSecond.Loads);
        Assert.Equal(afterFirst.Hits + 1, afterSecond.Hits);
    }

    [Fact]
    public async Task Inference_GpuRequestedWhereOnnxRuntimeHasNoCuda_FailsWithTheCudaReason()
    {
        // A node whose hardware reports a GPU, running the CPU build of ONNX Runtime.
        await using var node = await TestNode.StartAsync(configure: builder =>
            builder.Services.AddSingleton<IResourceLedger>(new ResourceLedger(new ResourceAmounts(2, 2048, 1024, 1, 8192), TimeProvider.System)));
        var model = await node.Client.UploadAsync(ModelApi.CommittedModel("linear.onnx"));
        var task = ModelApi.InferenceTask(model, new JsonObject { ["x"] = ModelApi.FloatTensor([1, 4], 1, 2, 3, 4) }, new JsonObject { ["gpu"] = true });

        var result = await node.Client.RunAsync(task);

        Assert.Equal("failed", result["state"]!.GetValue<string>());
        Assert.Null(result["result"]);
        Assert.StartsWith("this node cannot run GPU tasks: CUDA execution provider unavailable: ", result["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inference_BatchOfThreeSets_RunsAsOneCallAndGivesOneOutputSetPerInputSet()
    {
        float[][] sets = [[1, 2, 3, 4], [0, 0, 0, 0, -1, -1, -1, -1], [0.5f, 0.5f, 0.5f, 0.5f]];
        var task = new JsonObject
        {
            ["type"] = "inference",
            ["data"] = new JsonObject
            {
                ["model"] = _linear,
                ["batch"] = new JsonArray([.. sets.Select(s => (JsonNode)new JsonObject { ["x"] = ModelApi.FloatTensor([s.Length / 4, 4], s) })]),
            },
        };

        var runsBefore = await RunsAsync();

        var result = await _node.Client.RunAsync(task);

        Assert.Equal("completed", result["state"]!.GetValue<string>());
        Assert.Equal(runsBefore + 1, await RunsAsync());
        var outputs = result["result"]!["outputs"]!.AsArray();
        Assert.Equal(3, outputs.Count);
        for (var i = 0; i < sets.Length; i++)
        {
            Assert.Equal([sets[i].Length / 4L, 2L], ModelApi.Shape(outputs[i]!["y"]));
            AssertClose(Linear(sets[i]), ModelApi.Floats(outputs[i]!["y"]));
        }
    }

    [Fact]
    public async Task Inference_BatchOnAModelWithAFixedBatchSize_RunsTheSetsOneByOne()
    {
        var fixedBatch = await _node.Client.UploadAsync(TestModels.Linear(fixedBatch: 1));
        float[][] sets = [[1, 2, 3, 4], [4, 3, 2, 1], [-1, 0, 1, 0]];
        var task = new JsonObject
        {
            ["type"] = "inference",
            ["data"] = new JsonObject
            {
                ["model"] = fixedBatch,
                ["batch"] = new JsonArray([.. sets.Select(s => (JsonNode)new JsonObject { ["x"] = ModelApi.FloatTensor([1, 4], s) })]),
            },
        };

        var runsBefore = await RunsAsync();

        var result = await _node.Client.RunAsync(task);

        Assert.Equal(runsBefore + 3, await RunsAsync());
        var outputs = result["result"]!["outputs"]!.AsArray();
        Assert.Equal(3, outputs.Count);
        for (var i = 0; i < sets.Length; i++)
        {
            AssertClose(Linear(sets[i]), ModelApi.Floats(outputs[i]!["y"]));
        }
    }

    [Fact]
    public async Task Submit_BatchWithABadSet_Answers422NamingTheSet()
    {
        var task = new JsonObject
        {
            ["type"] = "inference",
            ["data"] = new JsonObject
            {
                ["model"] = _linear,
                ["batch"] = new JsonArray(
                    new JsonObject { ["x"] = ModelApi.FloatTensor([1, 4], 1, 2, 3, 4) },
                    new JsonObject { ["x"] = ModelApi.Tensor("float64", [1, 4], new JsonArray(1, 2, 3, 4)) }),
            },
        };

        var (status, body) = await _node.Client.SubmitAsync(task.ToJsonString());

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("type float64 given, model expects float32", body!["errors"]!["data.batch[1].x"]![0]!.GetValue<string>());
    }

    private async Task<(long Loads, long Hits)> CacheAsync()
    {
        var cache = (await _node.Client.GetJsonAsync("/api/models"))["runtime"]!["sessionCache"]!;
        return (cache["loads"]!.GetValue<long>(), cache["hits"]!.GetValue<long>());
    }

    private async Task<long> RunsAsync() => (await _node.Client.GetJsonAsync("/api/models"))["runtime"]!["runs"]!.GetValue<long>();

    private static double[] Linear(float[] x)
    {
        var rows = x.Length / 4;
        var y = new double[rows * 2];
        for (var r = 0; r < rows; r++)
        {
            for (var j = 0; j < 2; j++)
            {
                var sum = B[j];
                for (var k = 0; k < 4; k++)
                {
                    sum += x[(r * 4) + k] * W[k, j];
                }

                y[(r * 2) + j] = sum;
            }
        }

        return y;
    }

    private static double[] MlpForward(float[] x, int rows)
    {
        var (w1, b1, w2, b2) = TestModels.MlpWeights();
        const int inputs = TestModels.MlpInputs, hidden = TestModels.MlpHidden, outputs = TestModels.MlpOutputs;
        var y = new double[rows * outputs];
        for (var r = 0; r < rows; r++)
        {
            var h = new double[hidden];
            for (var j = 0; j < hidden; j++)
            {
                var sum = (double)b1[j];
                for (var k = 0; k < inputs; k++)
                {
                    sum += x[(r * inputs) + k] * (double)w1[(k * hidden) + j];
                }

                h[j] = Math.Max(0, sum);
            }

            for (var o = 0; o < outputs; o++)
            {
                var sum = (double)b2[o];
                for (var j = 0; j < hidden; j++)
                {
                    sum += h[j] * w2[(j * outputs) + o];
                }

                y[(r * outputs) + o] = sum;
            }
        }

        return y;
    }

    private static void AssertClose(double[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])), $"element {i}: expected {expected[i]}, got {actual[i]}");
        }
    }
}
