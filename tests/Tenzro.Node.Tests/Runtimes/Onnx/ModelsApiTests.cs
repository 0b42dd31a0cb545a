using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.ModelGen;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Runtimes.Onnx;

[Trait("Suite", "inference")]
public sealed class ModelsApiTests : IAsyncLifetime
{
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync();

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task Put_LinearModel_Answers201WithInputsAndOutputsReadFromTheModel()
    {
        var bytes = ModelApi.CommittedModel("linear.onnx");

        var (status, body) = await _node.Client.PutModelAsync(bytes);

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), body!["sha256"]!.GetValue<string>());
        Assert.Equal(bytes.Length, body["size"]!.GetValue<long>());
        var input = Assert.Single(body["inputs"]!.AsArray())!;
        Assert.Equal("x", input["name"]!.GetValue<string>());
        Assert.Equal("float32", input["type"]!.GetValue<string>());
        Assert.Equal([-1L, 4L], ModelApi.Shape(input));
        var output = Assert.Single(body["outputs"]!.AsArray())!;
        Assert.Equal("y", output["name"]!.GetValue<string>());
        Assert.Equal([-1L, 2L], ModelApi.Shape(output));
    }

    [Fact]
    public async Task List_AfterUpload_ListsTheModelWithItsInput()
    {
        var sha256 = await _node.Client.UploadAsync(ModelApi.CommittedModel("linear.onnx"));

        var body = await _node.Client.GetJsonAsync("/api/models");

        var model = Assert.Single(body["models"]!.AsArray())!;
        Assert.Equal(sha256, model["sha256"]!.GetValue<string>());
        var input = model["inputs"]![0]!;
        Assert.Equal("x", input["name"]!.GetValue<string>());
        Assert.Equal("float32", input["type"]!.GetValue<string>());
        Assert.Equal([-1L, 4L], ModelApi.Shape(input));
        Assert.Contains("CPUExecutionProvider", body["runtime"]!["providers"]!.AsArray().Select(p => p!.GetValue<string>()));
    }

    [Fact]
    public async Task Put_SameModelTwice_SecondAnswers200WithTheSameModel()
    {
        var bytes = ModelApi.CommittedModel("mlp.onnx");
        var (first, firstBody) = await _node.Client.PutModelAsync(bytes);
        var (second, secondBody) = await _node.Client.PutModelAsync(bytes);

        Assert.Equal(HttpStatusCode.Created, first);
        Assert.Equal(HttpStatusCode.OK, second);
        Assert.Equal(firstBody!["sha256"]!.GetValue<string>(), secondBody!["sha256"]!.GetValue<string>());
    }

    [Fact]
    public async Task Put_ModelWithExternalData_Answers422WithoutAPathOfThisMachine()
    {
        // ONNX Runtime would read the tensor from a file relative to its working directory (DATA_DIR under systemd).
        var (status, body) = await _node.Client.PutModelAsync(TestModels.ExternalData("etc/hostname"));
        var list = await _node.Client.GetJsonAsync("/api/models");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        var text = body!["detail"]!.GetValue<string>();
        Assert.Contains("tensor 'W' keeps its data in an external file", text, StringComparison.Ordinal);
        Assert.DoesNotContain(_node.DataDirectory, text, StringComparison.Ordinal);
        Assert.DoesNotContain(Environment.CurrentDirectory, text, StringComparison.Ordinal);
        Assert.Empty(list["models"]!.AsArray());
    }

    [Theory]
    [InlineData("this is not an onnx model")]
    [InlineData("")]
    public async Task Put_NotAnOnnxModel_Answers422ProblemSayingSo(string text)
    {
        var (status, body) = await _node.Client.PutModelAsync(System.Text.Encoding.UTF8.GetBytes(text));
        var list = await _node.Client.GetJsonAsync("/api/models");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("ONNX", body!["title"]!.GetValue<string>());
        Assert.Contains("not an ONNX model", body["detail"]!.GetValue<string>() + " " + body["title"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
        Assert.Empty(list["models"]!.AsArray());
    }

    [Fact]
    public async Task Put_JsonBody_Answers415()
    {
        var (status, body) = await _node.Client.PutModelAsync("{}"u8.ToArray(), "application/json");

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Contains("octet-stream", body!["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task Get_UploadedModel_AnswersItsMetadata()
    {
        var sha256 = await _node.Client.UploadAsync(ModelApi.CommittedModel("mlp.onnx"));

        var body = await _node.Client.GetJsonAsync($"/api/models/{sha256}");

        Assert.Equal(sha256, body["sha256"]!.GetValue<string>());
        Assert.Equal([-1L, 3L], ModelApi.Shape(body["outputs"]![0]));
    }

    [Fact]
    public async Task Get_UnknownModel_Answers404()
    {
        var response = await _node.Client.GetAsync($"/api/models/{new string('a', 64)}", Timeouts.Token());

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Delete_UploadedModel_RemovesItAndItsBytes()
    {
        var sha256 = await _node.Client.UploadAsync(ModelApi.CommittedModel("linear.onnx"));

        var deleted = await _node.Admin.DeleteAsync($"/api/models/{sha256}", Timeouts.Token());
        var body = await TaskApi.ReadAsync(deleted);
        var get = await _node.Client.GetAsync($"/api/models/{sha256}", Timeouts.Token());
        var blob = await _node.Client.GetAsync($"/api/blobs/{sha256}", Timeouts.Token());
        var again = await _node.Admin.DeleteAsync($"/api/models/{sha256}", Timeouts.Token());

        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.Equal(ModelApi.CommittedModel("linear.onnx").Length, body!["bytesFreed"]!.GetValue<long>());
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, blob.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task Delete_WhileAnInferenceTaskIsQueued_Answers409NamingTheTask()
    {
        var sha256 = await _node.Client.UploadAsync(ModelApi.CommittedModel("linear.onnx"));
        // Everything the node lends is reserved, so the task stays queued until the blocker is released.
        var ledger = _node.Service<IResourceLedger>();
        Assert.True(ledger.TryReserve("blocker", ledger.Allowed, out _));
        var task = ModelApi.InferenceTask(sha256, new JsonObject { ["x"] = ModelApi.FloatTensor([1, 4], 1, 2, 3, 4) });
        task["taskId"] = "uses-the-model";
        var (submitted, _) = await _node.Client.SubmitAsync(task.ToJsonString());

        var response = await _node.Admin.DeleteAsync($"/api/models/{sha256}", Timeouts.Token());
        var body = await TaskApi.ReadAsync(response);
        ledger.Release("blocker");
        _node.Service<TaskEngine>().Pump();
        var final = await _node.Client.WaitFinalAsync("uses-the-model");
        var afterwards = await _node.Admin.DeleteAsync($"/api/models/{sha256}", Timeouts.Token());

        Assert.Equal(HttpStatusCode.Accepted, submitted);
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("uses-the-model", body!["detail"]!.GetValue<string>());
        Assert.Equal("completed", final["state"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, afterwards.StatusCode);
    }

    [Fact]
    public async Task StoreTaskBlob_ThatIsAModel_CanBeReferencedAndIsThenListed()
    {
        var bytes = TestModels.Linear();
        var store = await _node.Client.RunAsync(new JsonObject
        {
            ["type"] = "store",
            ["data"] = new JsonObject { ["content"] = Convert.ToBase64String(bytes), ["encoding"] = "base64" },
        });
        var sha256 = store["result"]!["sha256"]!.GetValue<string>();

        var result = await _node.Client.RunAsync(ModelApi.InferenceTask(sha256, new JsonObject { ["x"] = ModelApi.FloatTensor([1, 4], 1, 0, 0, 0) }));
        var list = await _node.Client.GetJsonAsync("/api/models");
        var deleted = await _node.Admin.DeleteAsync($"/api/models/{sha256}", Timeouts.Token());
        var blob = await _node.Client.GetAsync($"/api/blobs/{sha256}", Timeouts.Token());

        Assert.Equal("completed", result["state"]!.GetValue<string>());
        Assert.Equal([0.6f, -1.2f], ModelApi.Floats(result["result"]!["outputs"]!["y"]));
        var model = Assert.Single(list["models"]!.AsArray())!;
        Assert.Equal("store", model["source"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.OK, blob.StatusCode);
    }

    [Fact]
    public async Task StoreTaskBlob_ThatIsNotAModel_IsRejectedAsModel()
    {
        var store = await _node.Client.RunAsync(new JsonObject { ["type"] = "store", ["data"] = new JsonObject { ["content"] = "hello" } });
        var sha256 = store["result"]!["sha256"]!.GetValue<string>();

        var (status, body) = await _node.Client.SubmitAsync(ModelApi.InferenceTask(sha256, new JsonObject { ["x"] = ModelApi.FloatTensor([1, 4], 1, 0, 0, 0) }).ToJsonString());

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("not an ONNX model", body!["errors"]!["data.model"]![0]!.GetValue<string>());
    }
}
