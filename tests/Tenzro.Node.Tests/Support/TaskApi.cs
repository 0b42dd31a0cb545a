using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.Tests.Support;

/// <summary>Helpers to drive the task API of a <see cref="TestNode"/>.</summary>
public static class TaskApi
{
    public static async Task<(HttpStatusCode Status, JsonObject? Body)> SubmitAsync(this HttpClient client, string json, string query = "")
    {
        using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        var response = await client.PostAsync("/api/tasks/execute" + query, content, Timeouts.Token());
        return (response.StatusCode, await ReadAsync(response));
    }

    public static async Task<JsonObject> GetJsonAsync(this HttpClient client, string path)
    {
        var response = await client.GetAsync(path, Timeouts.Token());
        return await ReadAsync(response) ?? throw new InvalidOperationException($"{path} answered {(int)response.StatusCode} with no JSON");
    }

    /// <summary>Polls the task until it is final; fails the test after <paramref name="timeout"/>.</summary>
    public static async Task<JsonObject> WaitFinalAsync(this HttpClient client, string taskId, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeouts.Short);
        while (DateTime.UtcNow < deadline)
        {
            var status = await client.GetJsonAsync($"/api/tasks/{taskId}");
            if (status["state"]?.GetValue<string>() is "completed" or "failed" or "cancelled" or "timed_out")
            {
                return status;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"task {taskId} did not end within {timeout ?? Timeouts.Short}");
    }

    public static async Task<JsonObject?> ReadAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject;
    }
}
