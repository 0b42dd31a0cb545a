using System.CommandLine;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Spectre.Console;
using Tenzro.Node.Api;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Tasks;
using static System.FormattableString;

namespace Tenzro.Node.Cli;

/// <summary>Subcommands that call a running node's HTTP API.</summary>
internal static class ClientCommands
{
    internal static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Option<Uri?> UrlOption() => new("--url", "-u")
    {
        Description = "The node's base URL (default: http://127.0.0.1:PORT, PORT read from the environment or .env).",
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
            if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
            {
                return uri;
            }

            result.AddError($"--url '{text}' is not an http:// or https:// URL, e.g. http://127.0.0.1:8080.");
            return null;
        },
    };

    public static Option<bool> JsonOption() => new("--json") { Description = "Print the raw JSON answer, for machines." };

    public static Command Status()
    {
        var url = UrlOption();
        var json = JsonOption();
        var command = new Command("status", "Show a running node's identity, tier, link and task counts.") { url, json };
        command.SetAction(async (parse, ct) =>
        {
            var (code, body, error) = await GetAsync(parse.GetValue(url), "/status", ct);
            if (body is null)
            {
                return Unreachable(error);
            }

            if (code is 401 or 403)
            {
                return Refused(code, body);
            }

            if (parse.GetValue(json))
            {
                Console.WriteLine(body.ToJsonString(Indented));
                return code == 200 ? CliApp.Ok : CliApp.CheckFailed;
            }

            if (As(body, ApiJson.Default.StatusBody) is not { } status)
            {
                return Unreachable($"{parse.GetValue(url) ?? CliApp.DefaultUrl()}: the answer to /status is not a node's status");
            }

            var table = new Table().AddColumn("field").AddColumn("value").Border(TableBorder.Rounded);
            table.AddRow("peer id", Markup.Escape(status.PeerId));
            table.AddRow("type / tier", Markup.Escape($"{status.NodeType} / {status.Tier.Configured} (qualifies for {status.Tier.Qualified})"));
            table.AddRow("region", Markup.Escape(status.Region));
            table.AddRow("version", Markup.Escape(status.Version));
            table.AddRow("uptime", Invariant($"{status.UptimeSeconds} s"));
            table.AddRow("regional link", Markup.Escape($"{status.Regional.State} {status.Regional.Url}"));
            var tasks = status.Tasks;
            table.AddRow("tasks", $"{tasks.Queued} queued, {tasks.Running} running, {tasks.Completed} completed, {tasks.Failed} failed");
            table.AddRow("tokens", Markup.Escape(Invariant($"{status.TokenBalance} (earned {status.Earnings.Total})")));
            table.AddRow("draining", status.Draining ? "true" : "false");
            AnsiConsole.Write(table);
            return CliApp.Ok;
        });
        return command;
    }

    public static Command HealthCheck()
    {
        var url = UrlOption();
        var json = JsonOption();
        var strict = new Option<bool>("--strict") { Description = "Exit 1 when the node is degraded, too (for monitors that page on it)." };
        var command = new Command("health-check", "Check a running node's health: exit 0 healthy or degraded (1 with --strict), 1 unhealthy, 2 unreachable.") { url, json, strict };
        command.SetAction(async (parse, ct) =>
        {
            var (code, body, error) = await GetAsync(parse.GetValue(url), "/health", ct);
            if (body is null)
            {
                return Unreachable(error);
            }

            if (parse.GetValue(json))
            {
                Console.WriteLine(body.ToJsonString(Indented));
            }
            else
            {
                Console.WriteLine($"node: {body["status"]}");
                if (body["checks"] is JsonObject checks)
                {
                    foreach (var (name, check) in checks)
                    {
                        Console.WriteLine($"  {name,-12} {check?["status"],-10} {check?["detail"]}");
                    }
                }
            }

            var degraded = body["status"]?.GetValue<string>() == "degraded";
            return code == 200 && !(degraded && parse.GetValue(strict)) ? CliApp.Ok : CliApp.CheckFailed;
        });
        return command;
    }

    public static Command Submit()
    {
        var file = new Argument<FileInfo>("file") { Description = "A JSON file holding one task object (see docs/TASKS.md); '-' reads standard input." };
        var url = UrlOption();
        var wait = new Option<bool>("--wait", "-w") { Description = "Wait for the task to end, showing progress, and print its result." };
        var json = JsonOption();
        var command = new Command("submit", "Submit a task to a running node; with --wait, exit 0 when it completed and 1 otherwise.") { file, url, wait, json };
        command.SetAction(async (parse, ct) =>
        {
            var path = parse.GetValue(file)!;
            string text;
            try
            {
                text = path.Name == "-" ? await Console.In.ReadToEndAsync(ct) : await File.ReadAllTextAsync(path.FullName, ct);
            }
            catch (IOException e)
            {
                await Console.Error.WriteLineAsync($"Cannot read {path.FullName}: {e.Message}");
                return CliApp.BadArguments;
            }

            var baseUrl = parse.GetValue(url) ?? CliApp.DefaultUrl();
            using var http = NodeClient.Create(baseUrl, Timeout.InfiniteTimeSpan);
            HttpResponseMessage response;
            try
            {
                response = await http.PostAsync("/api/tasks/execute", new StringContent(text, Encoding.UTF8, "application/json"), ct);
            }
            catch (HttpRequestException e)
            {
                return Unreachable($"{baseUrl}: {e.Message}");
            }

            var body = await ReadJsonAsync(response, ct);
            if (!response.IsSuccessStatusCode)
            {
                await Console.Error.WriteLineAsync($"The node refused the task ({(int)response.StatusCode}): {body?["detail"] ?? body?.ToJsonString()}");
                return CliApp.CheckFailed;
            }

            var submitted = As(body, CoreJson.Default.TaskSubmittedBody);
            var taskId = submitted?.TaskId ?? "?";
            if (!parse.GetValue(wait))
            {
                Console.WriteLine(parse.GetValue(json) ? body!.ToJsonString(Indented) : $"submitted {taskId} ({submitted?.Status})");
                return CliApp.Ok;
            }

            var final = await WaitWithProgressAsync(http, taskId, ct);
            if (final is null)
            {
                return Unreachable($"{baseUrl}: the node stopped answering while the task ran");
            }

            var resultResponse = await http.GetAsync($"/api/tasks/{Uri.EscapeDataString(taskId)}/result", ct);
            var result = await ReadJsonAsync(resultResponse, ct);
            Console.WriteLine(parse.GetValue(json) ? result?.ToJsonString(Indented) : Describe(As(result, CoreJson.Default.TaskResultBody)));
            return final == "completed" ? CliApp.Ok : CliApp.CheckFailed;
        });
        return command;
    }

    public static Command Drain(bool drain)
    {
        var url = UrlOption();
        var command = new Command(drain ? "drain" : "resume", drain
            ? "Stop taking new tasks; running tasks finish."
            : "Take tasks again after a drain.") { url };
        command.SetAction(async (parse, ct) =>
        {
            var baseUrl = parse.GetValue(url) ?? CliApp.DefaultUrl();
            using var http = NodeClient.Create(baseUrl, TimeSpan.FromSeconds(10));
            try
            {
                var response = await http.PostAsync(drain ? "/api/node/drain" : "/api/node/resume", null, ct);
                var body = await ReadJsonAsync(response, ct);
                if (!response.IsSuccessStatusCode)
                {
                    return Refused((int)response.StatusCode, body);
                }

                var answer = As(body, ApiJson.Default.DrainBody);
                Console.WriteLine(drain
                    ? $"draining: {answer?.Running} task(s) still running, {answer?.Queued} queued"
                    : $"taking tasks again: {answer?.Queued} queued");
                return response.IsSuccessStatusCode ? CliApp.Ok : CliApp.CheckFailed;
            }
            catch (HttpRequestException e)
            {
                return Unreachable($"{baseUrl}: {e.Message}");
            }
        });
        return command;
    }

    private static async Task<string?> WaitWithProgressAsync(HttpClient http, string taskId, CancellationToken ct)
    {
        string? final = null;
        await AnsiConsole.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async progress =>
            {
                var bar = progress.AddTask(taskId, maxValue: 1);
                while (!ct.IsCancellationRequested)
                {
                    TaskStatusBody? status;
                    try
                    {
                        status = As(await ReadJsonAsync(await http.GetAsync($"/api/tasks/{Uri.EscapeDataString(taskId)}", ct), ct), CoreJson.Default.TaskStatusBody);
                    }
                    catch (HttpRequestException)
                    {
                        return;
                    }

                    var state = status?.State;
                    bar.Value = status?.Progress ?? 0;
                    bar.Description = $"{taskId} {state}";
                    if (state is "completed" or "failed" or "cancelled" or "timed_out")
                    {
                        final = state;
                        return;
                    }

                    await Task.Delay(100, ct);
                }
            });
        return final;
    }

    private static string Describe(TaskResultBody? result)
    {
        if (result is null)
        {
            return "(no result)";
        }

        return result.State == "completed"
            ? $"completed, digest {result.Digest}\n{result.Result?.ToJsonString(Indented)}"
            : $"{result.State}: {result.Error}";
    }

    /// <summary>An answer read as its wire contract; null when it is none (not JSON of that shape).</summary>
    internal static T? As<T>(JsonObject? body, JsonTypeInfo<T> contract) where T : class
    {
        try
        {
            return body?.Deserialize(contract);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    internal static Task<(int Code, JsonObject? Body, string? Error)> GetAsync(Uri? url, string path, CancellationToken ct) =>
        SendAsync(url, HttpMethod.Get, path, TimeSpan.FromSeconds(10), ct);

    /// <summary>
    /// Sends a request (with <paramref name="body"/> as JSON, if given) to the node and reads its JSON answer; <c>Code</c> 0 and <c>Error</c>
    /// (the address and why) when the node cannot be reached within <paramref name="timeout"/>.
    /// </summary>
    internal static async Task<(int Code, JsonObject? Body, string? Error)> SendAsync(Uri? url, HttpMethod method, string path, TimeSpan timeout, CancellationToken ct, JsonObject? body = null)
    {
        var baseUrl = url ?? CliApp.DefaultUrl();
        using var http = NodeClient.Create(baseUrl, timeout);
        try
        {
            using var request = new HttpRequestMessage(method, path);
            if (body is not null)
            {
                request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            }

            using var response = await http.SendAsync(request, ct);
            return ((int)response.StatusCode, await ReadJsonAsync(response, ct), null);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return (0, null, $"{baseUrl}: {e.Message}");
        }
    }

    private static async Task<JsonObject?> ReadJsonAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync<JsonObject>(ct);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Says why the node refused (401 no or bad key, 403 role too low, …) and returns <see cref="CliApp.CheckFailed"/>.</summary>
    internal static int Refused(int code, JsonObject? body)
    {
        Console.Error.WriteLine($"The node answered {code}: {body?["detail"] ?? body?.ToJsonString()}");
        if (code == 401)
        {
            Console.Error.WriteLine($"Pass --api-key-file FILE or set {NodeClient.KeyVariable}; on the node's own machine, run as its user so that DATA_DIR/admin.token can be read.");
        }

        return CliApp.CheckFailed;
    }

    internal static int Unreachable(string? error)
    {
        Console.Error.WriteLine($"Cannot reach the node at {error}. Is it running? Pass --url to point at it.");
        return CliApp.Unreachable;
    }
}
