using Tenzro.Node.ModelGen;

namespace Tenzro.Node.Tests.Runtimes.Onnx;

[Trait("Suite", "inference")]
public sealed class CommittedModelsTests
{
    public static TheoryData<string> Names => [.. TestModels.Committed.Keys];

    /// <summary>tests/models holds exactly what the generator writes, so its README command reproduces them.</summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void CommittedModel_EqualsTheGeneratorOutput(string name)
    {
        var committed = ModelApi.CommittedModel(name);

        Assert.Equal(TestModels.Committed[name](), committed);
        Assert.True(committed.Length < 2 * 1024 * 1024);
    }
}
