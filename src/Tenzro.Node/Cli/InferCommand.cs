using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Cli;

/// <summary>
/// <c>tenzro-node infer MODEL.onnx INPUTS.json</c>: uploads the model, runs one inference task on the
/// inputs, waits, and prints the outputs. Exit 0 completed; 1 the model or the task was refused, or the
/// task did not complete; 2 the node cannot be reached or the files cannot be read.
/// </summary>
internal static class InferCommand
{
    private const int MaxValuesShown = 12;
    private const int MaxRowsShown = 10;
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "The .onnx model file; it is uploaded with PUT /api/models (a no-op when the node has it)." };
        var inputs = new Argument<FileInfo>("inputs")
        {
            Description = "A JSON file: an object of input name → tensor ({\"x\":{\"type\":\"float32\",\"shape\":[1,4],\"data\":[1,2,3,4]}}), " +
                "or {\"inputs\":{…}}, or {\"batch\":[{…},{…}]} for several input sets.",
        };
        var url = ClientCommands.UrlOption();
        var json = ClientCommands.JsonOption();
        var gpu = new Option<bool>("--gpu") { Description = "Ask for a GPU (requirements.gpuCount 1); the task fails where the node cannot run CUDA." };
        var cpu = new Option<double?>("--cpu") { Description = "CPU cores to reserve (requirements.cpu); ONNX Runtime uses that many threads, rounded up." };
        var command = new Command("infer", "Upload an ONNX model, run it on the inputs in a JSON file, and print the outputs.") { model, inputs, url, json, gpu, cpu };
        command.SetAction(async (parse, ct) =>
        {
            var modelFile = parse.GetValue(model)!;
            var inputsFile = parse.GetValue(inputs)!;
            byte[] modelBytes;
            JsonObject data;
            try
            {
                modelBytes = await File.ReadAllBytesAsync(modelFile.FullName, ct);
                data = ReadInputs(await File.ReadAllTextAsync(inputsFile.FullName, ct));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or FormatException)
            {
                await Console.Error.WriteLineAsync($"Cannot use the files: {e.Message}");
                return CliApp.BadArguments;
            }

            var baseUrl = parse.GetValue(url) ?? CliApp.DefaultUrl();
            using var http = NodeClient.Create(baseUrl, Timeout.InfiniteTimeSpan);
            try
            {
                return await RunAsync(http, modelBytes, data, parse.GetValue(gpu), parse.GetValue(cpu), parse.GetValue(json), ct);
            }
            catch (HttpRequestException e)
            {
                await Console.Error.WriteLineAsync($"Cannot reach the node at {baseUrl}: {e.Message}. Is it running? Pass --url to point at it.");
                return CliApp.Unreachable;
            }
        });
        return command;
    }

    /// <summary>The task's <c>data</c> without the model: <c>inputs</c> or <c>batch</c>.</summary>
    internal static JsonObject ReadInputs(string text)
    {
        if (JsonNode.Parse(text) is not JsonObject root)
        {
            throw new FormatException("the inputs file must hold one JSON object");
        }

        if (root["batch"] is JsonArray batch)
        {
            return new JsonObject { ["batch"] = batch.DeepClone() };
        }

        return root["inputs"] is JsonObject inputs
            ? new JsonObject { ["inputs"] = inputs.DeepClone() }
            : new JsonObject { ["inputs"] = root.DeepClone() };
    }

    private static async Task<int> RunAsync(HttpClient http, byte[] modelBytes, JsonObject data, bool gpu, double? cpu, bool json, CancellationToken ct)
    {
        using var modelContent = new ByteArrayContent(modelBytes);
        modelContent.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        var upload = await http.PutAsync("/api/models", modelContent, ct);
        var uploaded = await ReadJsonAsync(upload, ct);
        if (!upload.IsSuccessStatusCode)
        {
            await Console.Error.WriteLineAsync($"The node refused the model ({(int)upload.StatusCode}): {uploaded?["detail"] ?? uploaded?.ToJsonString()}");
            return CliApp.CheckFailed;
        }

        var sha256 = uploaded!["sha256"]!.GetValue<string>();
        data["model"] = sha256;
        var requirements = new JsonObject();
        if (gpu)
        {
            requirements["gpuCount"] = 1;
        }

        if (cpu is { } cores)
        {
            requirements["cpu"] = cores;
        }

        var task = new JsonObject { ["type"] = "inference", ["data"] = data, ["requirements"] = requirements };
        var submitted = await http.PostAsync("/api/tasks/execute?wait=30s", new StringContent(task.ToJsonString(), Encoding.UTF8, "application/json"), ct);
        var body = await ReadJsonAsync(submitted, ct);
        if (!submitted.IsSuccessStatusCode)
        {
            await Console.Error.WriteLineAsync($"The node refused the task ({(int)submitted.StatusCode}): {body?["detail"]}");
            if (body?["errors"] is JsonObject errors)
            {
                foreach (var (field, messages) in errors)
                {
                    await Console.Error.WriteLineAsync($"  {field}: {string.Join(" ", messages!.AsArray().Select(m => m?.ToString()))}");
                }
            }

            return CliApp.CheckFailed;
        }

        var result = submitted.StatusCode == HttpStatusCode.OK && body?["state"] is not null
            ? body
            : await WaitResultAsync(http, ClientCommands.As(body, CoreJson.Default.TaskSubmittedBody)?.TaskId ?? "?", ct);
        if (json)
        {
            Console.WriteLine(result.ToJsonString(Indented));
        }
        else
        {
            Console.WriteLine(Describe(sha256, result));
        }

        return ClientCommands.As(result, CoreJson.Default.TaskResultBody)?.State == "completed" ? CliApp.Ok : CliApp.CheckFailed;
    }

    private static async Task<JsonObject> WaitResultAsync(HttpClient http, string taskId, CancellationToken ct)
    {
        while (true)
        {
            var response = await http.GetAsync($"/api/tasks/{Uri.EscapeDataString(taskId)}/result", ct);
            if (response.StatusCode != HttpStatusCode.Accepted)
            {
                return await ReadJsonAsync(response, ct) ?? new JsonObject { ["state"] = "unknown", ["error"] = $"the result answered {(int)response.StatusCode}" };
            }

            await Task.Delay(200, ct);
        }
    }

    /// <summary>The outputs as text: one block per output, a 2-D tensor as rows, long data cut short.</summary>
    internal static string Describe(string sha256, JsonObject result)
    {
        var text = new StringBuilder();
        var state = result["state"]?.ToString();
        text.AppendLine(CultureInfo.InvariantCulture, $"task {result["taskId"]} {state} (model {sha256[..12]}…)");
        if (state != "completed")
        {
            text.Append(CultureInfo.InvariantCulture, $"error: {result["error"]}");
            return text.ToString();
        }

        switch (result["result"]?["outputs"])
        {
            case JsonObject outputs:
                AppendOutputs(text, outputs, string.Empty);
                break;
            case JsonArray sets:
                for (var i = 0; i < sets.Count; i++)
                {
                    text.AppendLine(CultureInfo.InvariantCulture, $"set {i}:");
                    AppendOutputs(text, sets[i]!.AsObject(), "  ");
                }

                break;
        }

        text.Append(CultureInfo.InvariantCulture, $"digest {result["digest"]}");
        return text.ToString();
    }

    private static void AppendOutputs(StringBuilder text, JsonObject outputs, string indent)
    {
        foreach (var (name, tensor) in outputs)
        {
            var shape = tensor!["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
            var data = tensor["data"]!.AsArray();
            text.AppendLine(CultureInfo.InvariantCulture, $"{indent}{name}  {tensor["type"]} [{string.Join(',', shape)}]");
            var rowLength = shape.Length >= 2 ? (int)Math.Max(1, shape[^1]) : Math.Max(1, data.Count);
            var rows = (data.Count + rowLength - 1) / rowLength;
            for (var row = 0; row < Math.Min(rows, MaxRowsShown); row++)
            {
                var values = data.Skip(row * rowLength).Take(rowLength).ToList();
                var shown = string.Join("  ", values.Take(MaxValuesShown).Select(v => v?.ToJsonString() ?? "null"));
                text.AppendLine(CultureInfo.InvariantCulture, $"{indent}  {shown}{(values.Count > MaxValuesShown ? $"  … ({values.Count} values)" : string.Empty)}");
            }

            if (rows > MaxRowsShown)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"{indent}  … ({rows} rows)");
            }
        }
    }

    private static async Task<JsonObject?> ReadJsonAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        try
        {
            return text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
