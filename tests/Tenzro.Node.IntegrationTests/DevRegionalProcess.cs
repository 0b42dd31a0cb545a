using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Tenzro.Node.IntegrationTests;

/// <summary>
/// <c>tenzro-node dev-regional --port 0</c> as a process: the development regional node of docs/PROTOCOL.md, driven
/// through its HTTP API (submit a task, read what it received of each task).
/// </summary>
public sealed partial class DevRegionalProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly HttpClient _http;

    private DevRegionalProcess(Process process, int port)
    {
        _process = process;
        Url = new Uri($"ws://127.0.0.1:{port}/ws");
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <summary>The URL nodes join at (REGIONAL_NODE_URL).</summary>
    public Uri Url { get; }

    public static async Task<DevRegionalProcess> StartAsync()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { NodeProcess.DllPath(), "dev-regional", "--port", "0" })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var line = await process.StandardOutput.ReadLineAsync(timeout.Token) ?? string.Empty;
        var match = UrlLine().Match(line);
        if (!match.Success)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"dev-regional printed '{line}' rather than its URL");
        }

        return new DevRegionalProcess(process, int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Submits a task (PROTOCOL.md section 6); true when the regional node assigned it to a joined node.</summary>
    public async Task<bool> SubmitAsync(JsonObject task)
    {
        try
        {
            using var response = await _http.PostAsJsonAsync("/tasks", task);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    /// <summary>Waits until a node is joined (listed in GET /status peers); false when none joined in time.</summary>
    public async Task<bool> WaitForJoinedAsync(TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            var status = await _http.GetFromJsonAsync<JsonObject>("/status");
            if (status!["peers"]!.AsArray().Count > 0)
            {
                return true;
            }

            await Task.Delay(50);
        }

        return false;
    }

    /// <summary>Every task it was given, with who accepted it and every task_completed frame received (GET /status).</summary>
    public async Task<IReadOnlyList<JsonObject>> TasksAsync()
    {
        var status = await _http.GetFromJsonAsync<JsonObject>("/status");
        return [.. status!["tasks"]!.AsArray().Select(t => t!.AsObject())];
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        _http.Dispose();
    }

    [GeneratedRegex(@"^regional: ws://127\.0\.0\.1:(\d+)/ws$")]
    private static partial Regex UrlLine();
}
