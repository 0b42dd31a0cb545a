using System.Net;
using System.Text.Json.Nodes;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Runtimes.Onnx;

[Trait("Suite", "inference")]
public sealed class ModelMemoryTests
{
    [Fact]
    public async Task Submit_ReservationSmallerThanTheModel_Is422NamingMemory()
    {
        await using var node = await TestNode.StartAsync();
        var model = await node.Client.UploadAsync(ModelApi.CommittedModel("linear.onnx"));
        var task = ModelApi.InferenceTask(model, new JsonObject { ["x"] = ModelApi.FloatTensor([1, 4], 1, 2, 3, 4) }, new JsonObject { ["memoryMB"] = 0 });

        var (status, body) = await node.Client.SubmitAsync(task.ToJsonString());

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("once loaded", body!["errors"]!["requirements.memoryMB"]![0]!.GetValue<string>());
    }
}
