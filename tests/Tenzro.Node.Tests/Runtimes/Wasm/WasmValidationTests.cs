using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Runtimes.Wasm;

[Trait("Suite", "wasm")]
public sealed class WasmValidationTests : IDisposable
{
    private readonly WasmSandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    private ValidationErrors Validate(string data, string config = "{}", ResourceAmounts? requirements = null)
    {
        var errors = new ValidationErrors();
        var task = WasmSandbox.Task(JsonNode.Parse(data)!.AsObject(), JsonNode.Parse(config)!.AsObject(), requirements);
        _sandbox.Runtime.Validate(task, errors);
        return errors;
    }

    [Theory]
    [InlineData("""{"wat":"(module)","entry":"f","args":[1,"2","NaN"]}""")]
    [InlineData("""{"module":"AGFzbQEAAAA="}""")]
    [InlineData("""{"wat":"(module)","argv":["a"],"env":{"X":"1"},"stdin":"in"}""")]
    public void Validate_GoodTask_HasNoErrors(string data)
    {
        Assert.True(Validate(data).IsEmpty);
    }

    [Fact]
    public void Validate_GoodConfig_HasNoErrors()
    {
        var config = """{"fuel":1000000,"memoryLimitMB":16,"maxOutputBytes":4096,"maxTableElements":10,"scratch":true,"wasiClock":true,"wasiRandom":false}""";

        Assert.True(Validate("""{"wat":"(module)"}""", config, ResourceAmounts.TaskDefault with { StorageMB = 10 }).IsEmpty);
    }

    [Theory]
    [InlineData("""{}""", "data")]
    [InlineData("""{"wat":"(module)","module":"AGFzbQEAAAA="}""", "data")]
    [InlineData("""{"wat":"  "}""", "data.wat")]
    [InlineData("""{"module":"not base64!"}""", "data.module")]
    [InlineData("""{"moduleHash":"abc"}""", "data.moduleHash")]
    [InlineData("""{"moduleHash":"0000000000000000000000000000000000000000000000000000000000000000"}""", "data.moduleHash")]
    [InlineData("""{"wat":"(module)","entry":""}""", "data.entry")]
    [InlineData("""{"wat":"(module)","args":[1]}""", "data.args")]
    [InlineData("""{"wat":"(module)","entry":"f","args":["x"]}""", "data.args[0]")]
    [InlineData("""{"wat":"(module)","env":{"A=B":"1"}}""", "data.env.A=B")]
    public void Validate_BadValue_Is422WithField(string data, string field)
    {
        var errors = Validate(data);

        Assert.False(errors.HasTypeErrors);
        Assert.Contains(field, errors.ToDictionary().Keys);
    }

    [Theory]
    [InlineData("""{"wat":5}""", "data.wat")]
    [InlineData("""{"wat":"(module)","entry":3}""", "data.entry")]
    [InlineData("""{"wat":"(module)","entry":"f","args":{"a":1}}""", "data.args")]
    [InlineData("""{"wat":"(module)","entry":"f","args":[true]}""", "data.args[0]")]
    [InlineData("""{"wat":"(module)","argv":"a b"}""", "data.argv")]
    [InlineData("""{"wat":"(module)","argv":["a",1]}""", "data.argv[1]")]
    [InlineData("""{"wat":"(module)","env":["A=1"]}""", "data.env")]
    [InlineData("""{"wat":"(module)","env":{"A":1}}""", "data.env.A")]
    [InlineData("""{"wat":"(module)","stdin":["x"]}""", "data.stdin")]
    public void Validate_WrongJsonType_Is400WithField(string data, string field)
    {
        var errors = Validate(data);

        Assert.True(errors.HasTypeErrors);
        Assert.Contains(field, errors.ToDictionary().Keys);
    }

    [Theory]
    [InlineData("""{"fuel":0}""", "config.fuel")]
    [InlineData("""{"fuel":1.5}""", "config.fuel")]
    [InlineData("""{"fuel":"lots"}""", "config.fuel")]
    [InlineData("""{"maxOutputBytes":99999999999}""", "config.maxOutputBytes")]
    [InlineData("""{"memoryLimitMB":0}""", "config.memoryLimitMB")]
    [InlineData("""{"memoryLimitMB":1024}""", "config.memoryLimitMB")]
    [InlineData("""{"scratch":true}""", "config.scratch")]
    [InlineData("""{"wasiClock":"yes"}""", "config.wasiClock")]
    public void Validate_BadConfig_NamesTheField(string config, string field)
    {
        var errors = Validate("""{"wat":"(module)"}""", config);

        Assert.Contains(field, errors.ToDictionary().Keys);
    }

    [Fact]
    public async Task Validate_StoredModuleHash_HasNoErrors()
    {
        var hash = await _sandbox.Blobs.PutAsync(WasmModules.AddBinary(), Support.Timeouts.Token());

        Assert.True(Validate($$"""{"moduleHash":"{{hash}}","entry":"add","args":[1,2]}""").IsEmpty);
    }
}
