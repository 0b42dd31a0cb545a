using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Runtimes.Onnx;

/// <summary>Uploads models and runs inference tasks against a <see cref="TestNode"/>.</summary>
internal static class ModelApi
{
    /// <summary>The committed model file under tests/models (copied next to the test assembly).</summary>
    public static byte[] CommittedModel(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "models", name));

    public static async Task<(HttpStatusCode Status, JsonObject? Body)> PutModelAsync(this HttpClient client, byte[] bytes, string contentType = "application/octet-stream")
    {
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        var response = await client.PutAsync("/api/models", content, Timeouts.Token());
        return (response.StatusCode, await TaskApi.ReadAsync(response));
    }

    /// <summary>Uploads a model that must be accepted and returns its sha256.</summary>
    public static async Task<string> UploadAsync(this HttpClient client, byte[] bytes)
    {
        var (status, body) = await client.PutModelAsync(bytes);
        Assert.True(status is HttpStatusCode.Created or HttpStatusCode.OK, $"PUT /api/models answered {(int)status}: {body?.ToJsonString()}");
        return body!["sha256"]!.GetValue<string>();
    }

    /// <summary>Submits a task that must be accepted, waits for it to end, and returns its result body.</summary>
    public static async Task<JsonObject> RunAsync(this HttpClient client, JsonObject task)
    {
        var (status, submitted) = await client.SubmitAsync(task.ToJsonString());
        Assert.True(status == HttpStatusCode.Accepted, $"submit answered {(int)status}: {submitted?.ToJsonString()}");
        var taskId = submitted!["taskId"]!.GetValue<string>();
        await client.WaitFinalAsync(taskId, Timeouts.Long);
        return await client.GetJsonAsync($"/api/tasks/{taskId}/result");
    }

    public static JsonObject Tensor(string type, long[] shape, JsonArray data) => new()
    {
        ["type"] = type,
        ["shape"] = new JsonArray([.. shape.Select(d => (JsonNode)d)]),
        ["data"] = data,
    };

    public static JsonObject FloatTensor(long[] shape, params float[] values) =>
        Tensor("float32", shape, new JsonArray([.. values.Select(v => (JsonNode)v)]));

    public static JsonObject InferenceTask(string model, JsonObject inputs, JsonObject? requirements = null)
    {
        var task = new JsonObject
        {
            ["type"] = "inference",
            ["data"] = new JsonObject { ["model"] = model, ["inputs"] = inputs },
        };
        if (requirements is not null)
        {
            task["requirements"] = requirements;
        }

        return task;
    }

    /// <summary>Reads a float32 tensor's data, turning the "NaN"/"Infinity" strings back into floats.</summary>
    public static float[] Floats(JsonNode? tensor) =>
        [.. tensor!["data"]!.AsArray().Select(v => v!.GetValueKind() == System.Text.Json.JsonValueKind.String
            ? float.Parse(v.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture)
            : v.GetValue<float>())];

    public static long[] Shape(JsonNode? tensor) => [.. tensor!["shape"]!.AsArray().Select(d => d!.GetValue<long>())];
}
