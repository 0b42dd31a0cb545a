using System.Text.Json.Nodes;
using Tenzro.Node.ModelGen;
using Tenzro.Node.Runtimes.Onnx;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Runtimes.Onnx;

/// <summary>Every API tensor type goes into a model and comes back out unchanged (an Identity model per type).</summary>
[Trait("Suite", "inference")]
public sealed class TensorTypesTests : IAsyncLifetime
{
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync();

    public async Task DisposeAsync() => await _node.DisposeAsync();

    public static TheoryData<string, int, string> Cases => new()
    {
        { "float32", (int)OnnxDataType.Float, """[1.5,-0.25,"NaN","-Infinity"]""" },
        { "float64", (int)OnnxDataType.Double, """[0.1,1e300,-2,"Infinity"]""" },
        { "float16", (int)OnnxDataType.Float16, """[0.5,-2,1024,65504]""" },
        { "int8", (int)OnnxDataType.Int8, """[-128,0,1,127]""" },
        { "uint8", (int)OnnxDataType.UInt8, """[0,1,128,255]""" },
        { "int32", (int)OnnxDataType.Int32, """[-2147483648,0,7,2147483647]""" },
        { "int64", (int)OnnxDataType.Int64, """[-9007199254740992,1,"9007199254740993","-9223372036854775808"]""" },
        { "bool", (int)OnnxDataType.Bool, """[true,false,false,true]""" },
        { "string", (int)OnnxDataType.String, """["a","","ünïcode","x y"]""" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Inference_IdentityModel_ReturnsTheInputOfEachType(string type, int onnxType, string data)
    {
        var model = await _node.Client.UploadAsync(TestModels.Identity((OnnxDataType)onnxType, [OnnxDim.Named("n")]));
        var listed = await _node.Client.GetJsonAsync($"/api/models/{model}");
        var values = JsonNode.Parse(data)!.AsArray();

        var result = await _node.Client.RunAsync(ModelApi.InferenceTask(model, new JsonObject { ["x"] = ModelApi.Tensor(type, [4], values) }));

        Assert.Equal(type, listed["inputs"]![0]!["type"]!.GetValue<string>());
        Assert.True(result["state"]!.GetValue<string>() == "completed", result.ToJsonString());
        var y = result["result"]!["outputs"]!["y"]!;
        Assert.Equal(type, y["type"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(data), y["data"]), $"sent {data}, got {y["data"]!.ToJsonString()}");
    }

    [Fact]
    public async Task Inference_OutOfRangeInteger_Answers422()
    {
        var model = await _node.Client.UploadAsync(TestModels.Identity(OnnxDataType.UInt8, [OnnxDim.Fixed(2)]));

        var (status, body) = await _node.Client.SubmitAsync(ModelApi.InferenceTask(model, new JsonObject { ["x"] = ModelApi.Tensor("uint8", [2], new JsonArray(1, 256)) }).ToJsonString());

        Assert.Equal(System.Net.HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("data[1]", body!["errors"]!["data.inputs.x"]![0]!.GetValue<string>());
    }

    [Fact]
    public async Task Inference_TwoInputModelGivenOne_Answers422NamingTheMissingInput()
    {
        var model = await _node.Client.UploadAsync(TestModels.TwoInputs());

        var (status, body) = await _node.Client.SubmitAsync(ModelApi.InferenceTask(model, new JsonObject { ["a"] = ModelApi.FloatTensor([1, 2], 1, 2) }).ToJsonString());

        Assert.Equal(System.Net.HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("is required", body!["errors"]!["data.inputs.b"]![0]!.GetValue<string>());
    }
}
