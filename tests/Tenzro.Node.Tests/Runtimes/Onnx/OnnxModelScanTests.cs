using Tenzro.Node.ModelGen;
using Tenzro.Node.Runtimes.Onnx;

namespace Tenzro.Node.Tests.Runtimes.Onnx;

[Trait("Suite", "inference")]
public sealed class OnnxModelScanTests
{
    [Fact]
    public void WithoutPaths_OnnxRuntimeMessage_KeepsNoPathOfThisMachine()
    {
        const string message = "[ONNXRuntimeError] : 1 : FAIL : External data path does not exist: \"/var/lib/tenzro/etc/hostname\" (at /src/onnxruntime/core/graph.cc:1)";

        var trimmed = OnnxModelScan.WithoutPaths(message);

        Assert.Equal("[ONNXRuntimeError] : 1 : FAIL : External data path does not exist: \"<path>\" (at <path>)", trimmed);
    }

    [Theory]
    [InlineData("linear.onnx")]
    [InlineData("mlp.onnx")]
    public void ExternalDataReason_ModelWithItsTensorsInside_IsNull(string name)
    {
        Assert.Null(OnnxModelScan.ExternalDataReason(TestModels.Committed[name]()));
    }

    [Fact]
    public void ExternalDataReason_ExternalInitializer_NamesTheTensor()
    {
        Assert.StartsWith("tensor 'W' keeps its data in an external file", OnnxModelScan.ExternalDataReason(TestModels.ExternalData()), StringComparison.Ordinal);
    }
}
