using System.Text.Json.Nodes;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Tests.Resources;

[Trait("Suite", "resources")]
public sealed class ResourceAmountsTests
{
    private static readonly ResourceAmounts Some = new(1.5, 2048, 10240, 1, 8192);

    [Fact]
    public void ToJson_WritesTheFiveMembersInTheContractsOrder()
    {
        var json = Some.ToJson().ToJsonString();

        Assert.Equal("""{"cpu":1.5,"memoryMB":2048,"storageMB":10240,"gpuCount":1,"gpuMemoryMB":8192}""", json);
    }

    [Fact]
    public void ToJson_WithTheNodeRecordsName_CallsTheCpuMemberCpuCores()
    {
        var json = Some.ToJson(ResourceAmounts.CpuCoresName);

        Assert.Equal(1.5, json["cpuCores"]!.GetValue<double>());
        Assert.Null(json["cpu"]);
    }

    [Theory]
    [InlineData(ResourceAmounts.CpuName)]
    [InlineData(ResourceAmounts.CpuCoresName)]
    public void FromJson_ReadsWhatToJsonWrote(string cpuName)
    {
        var read = ResourceAmounts.FromJson(JsonNode.Parse(Some.ToJson(cpuName).ToJsonString())!.AsObject(), cpuName);

        Assert.Equal(Some, read);
    }

    [Fact]
    public void FromJson_MemberLeftOut_IsZero()
    {
        var parsed = ResourceAmounts.FromJson(JsonNode.Parse("""{"memoryMB":512}""")!.AsObject());
        var built = ResourceAmounts.FromJson(new JsonObject { ["memoryMB"] = 512 });

        Assert.Equal(new ResourceAmounts(0, 512, 0, 0, 0), parsed);
        Assert.Equal(parsed, built);
    }

    [Fact]
    public void FromJson_MemberOfTheWrongType_IsAFormatErrorNamingIt()
    {
        var error = Assert.Throws<FormatException>(() => ResourceAmounts.FromJson(JsonNode.Parse("""{"gpuCount":"two"}""")!.AsObject()));

        Assert.Equal("resource amounts: gpuCount is not a number", error.Message);
    }

    [Fact]
    public void Coarse_RoundsDownToHalfCoresAnd256MBAnd1GBSteps()
    {
        var coarse = new ResourceAmounts(1.74, 1000, 3000, 2, 1000).Coarse();

        Assert.Equal(new ResourceAmounts(1.5, 768, 2048, 2, 768), coarse);
    }

    [Fact]
    public void Coarse_NegativeFigures_AreZero()
    {
        var coarse = new ResourceAmounts(-0.5, -1, -1, -1, -1).Coarse();

        Assert.Equal(ResourceAmounts.None, coarse);
    }

    [Fact]
    public void ATaskWithoutRequirements_AsksForOneCoreAnd256MB()
    {
        var errors = new ValidationErrors();

        var task = TaskParser.Parse(JsonNode.Parse("""{"type":"store","data":{"content":"x"}}""")!.AsObject(), TimeSpan.FromHours(1), ["store"], TaskOrigins.Api, errors);

        Assert.True(errors.IsEmpty);
        Assert.Equal(ResourceAmounts.TaskDefault, task!.Requirements);
        Assert.Equal(new ResourceAmounts(1, 256, 0, 0, 0), task.Requirements);
    }
}
