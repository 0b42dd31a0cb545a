using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Runtimes.Onnx;

namespace Tenzro.Node.Tests.Runtimes.Onnx;

[Trait("Suite", "inference")]
public sealed class TensorJsonTests
{
    private static readonly ModelTensorInfo X = new("x", "float32", [-1, 4], ["batch", ""]);

    [Fact]
    public void Parse_NodesBuiltInCode_ReadsTheirClrNumbers()
    {
        var tensor = new JsonObject
        {
            ["type"] = "float32",
            ["shape"] = new JsonArray(1, 4),
            ["data"] = new JsonArray(1.5, 2, 3L, 4.25f),
        };
        var errors = new ValidationErrors();

        var parsed = TensorJson.Parse(tensor, "data.inputs.x", X, errors);

        Assert.True(errors.IsEmpty, errors.ToString());
        Assert.Equal([1L, 4L], parsed!.Shape);
        Assert.Equal([1.5f, 2f, 3f, 4.25f], (float[])parsed.Data);
    }

    [Fact]
    public void Parse_NestedArrays_AreFlattenedRowMajor()
    {
        var tensor = JsonNode.Parse("""{"type":"float32","shape":[2,4],"data":[[1,2,3,4],[5,6,7,8]]}""");
        var errors = new ValidationErrors();

        var parsed = TensorJson.Parse(tensor, "data.inputs.x", X, errors);

        Assert.Equal([1f, 2, 3, 4, 5, 6, 7, 8], (float[])parsed!.Data);
    }

    [Fact]
    public void Parse_OmittedTypeAndShapeOfAFixedModel_TakesTheModels()
    {
        var fixedShape = new ModelTensorInfo("x", "int64", [2], [""]);
        var errors = new ValidationErrors();

        var parsed = TensorJson.Parse(JsonNode.Parse("""{"data":[1,"9007199254740993"]}"""), "data.inputs.x", fixedShape, errors);

        Assert.Equal([1L, 9007199254740993L], (long[])parsed!.Data);
    }

    [Fact]
    public void Parse_ShapeAsStrings_IsRejected()
    {
        var errors = new ValidationErrors();

        var parsed = TensorJson.Parse(JsonNode.Parse("""{"shape":["1","4"],"data":[1,2,3,4]}"""), "data.inputs.x", X, errors);

        Assert.Null(parsed);
        Assert.Contains("non-negative integers", errors.ToString());
    }

    [Fact]
    public void ToJson_LargeInt64AndNonFiniteFloats_AreStrings()
    {
        var json = TensorJson.ToJson(new TensorValue("int64", [2], new long[] { 1L << 60, 5 }));
        var floats = TensorJson.ToJson(new TensorValue("float64", [3], new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity }));

        Assert.Equal("""["1152921504606846976",5]""", json["data"]!.ToJsonString());
        Assert.Equal("""["NaN","Infinity","-Infinity"]""", floats["data"]!.ToJsonString());
    }
}
