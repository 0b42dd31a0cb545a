using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Tenzro.Node.DevNetwork;

namespace Tenzro.Node.Cli;

/// <summary>
/// <c>dev-regional</c> and <c>dev-network</c>: the development regional node alone, or with N local nodes on
/// loopback, and <c>dev-network submit</c> to send it a task. For development and demonstrations only: the
/// regional node keeps everything in memory and trusts every node.
/// </summary>
internal static class DevNetworkCommands
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Where a running dev-network says where its regional node is, for <c>dev-network submit</c>.</summary>
    internal static string StateFile => Path.Combine(Path.GetTempPath(), "tenzro-dev-network.json");

    public static Command DevRegional()
    {
        var port = new Option<int>("--port", "-p") { Description = "Port to listen on; 0 picks a free one.", DefaultValueFactory = _ => 9000 };
        var host = new Option<string>("--host") { Description = "Address to listen on (127.0.0.1; 0.0.0.0 inside a container).", DefaultValueFactory = _ => "127.0.0.1" };
        var command = new Command("dev-regional", "Run the development regional node (docs/PROTOCOL.md) until Ctrl-C: nodes join it at ws://HOST:PORT/ws.") { port, host };
        command.SetAction(async (parse, ct) =>
        {
            if (!IPAddress.TryParse(parse.GetValue(host), out var address))
            {
                await Console.Error.WriteLineAsync($"--host '{parse.GetValue(host)}' is not an IP address, e.g. 127.0.0.1.");
                return CliApp.BadArguments;
            }

            DevRegionalNode regional;
            try
            {
                regional = await DevRegionalNode.StartAsync(port: parse.GetValue(port), address: address);
            }
            catch (IOException e)
            {
                await Console.Error.WriteLineAsync($"Cannot listen on {address}:{parse.GetValue(port)}: {e.Message}. Pass --port with a free port.");
                return CliApp.CheckFailed;
            }

            using var stop = Terminal.OnStopSignal(ct);
            await using (regional)
            {
                var shown = address.Equals(IPAddress.Any) ? IPAddress.Loopback : address;
                Console.WriteLine($"regional: ws://{shown}:{regional.Port}/ws");
                Console.WriteLine($"api: http://{shown}:{regional.Port} (GET /status, POST /tasks, GET /tasks/ID); Ctrl-C stops it");
                await ReportPeersAsync(regional, stop.Token);
            }

            return CliApp.Ok;
        });
        return command;
    }

    public static Command DevNetwork()
    {
        var nodes = new Option<int>("--nodes", "-n") { Description = "Number of local nodes (1-32).", DefaultValueFactory = _ => 3 };
        var port = new Option<int>("--port", "-p") { Description = "Port of the regional node; 0 (the default) picks a free one." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Keep the nodes' data here (node-1, node-2, ...) and reuse it next time; default: a temporary folder removed at the end." };
        var set = new Option<string[]>("--set", "-s") { Description = "A setting for every node, KEY=VALUE (repeatable).", AllowMultipleArgumentsPerToken = false };
        var command = new Command(
            "dev-network",
            "Run a development network on this machine until Ctrl-C: the development regional node and N local nodes on loopback, each with its own data and ports.")
        {
            nodes, port, dataDir, set,
        };
        command.Subcommands.Add(Submit());
        command.SetAction(async (parse, ct) =>
        {
            var count = parse.GetValue(nodes);
            if (count is < 1 or > 32)
            {
                await Console.Error.WriteLineAsync($"--nodes {count} is out of range; give 1 to 32.");
                return CliApp.BadArguments;
            }

            if (RunCommand.ParseSettings(parse.GetValue(set)) is not { } settings)
            {
                return CliApp.BadArguments;
            }

            var keep = parse.GetValue(dataDir) is not null;
            var root = keep ? Path.GetFullPath(parse.GetValue(dataDir)!) : Directory.CreateTempSubdirectory("tenzro-dev-network-").FullName;
            try
            {
                return await RunNetworkAsync(new LocalNetworkOptions(count, parse.GetValue(port), root, settings), ct);
            }
            finally
            {
                if (!keep)
                {
                    Directory.Delete(root, recursive: true);
                }
            }
        });
        return command;
    }

    /// <summary>
    /// Starts the network and prints one line per process as it becomes healthy; on a terminal a spinner below
    /// those lines says which node is awaited, elsewhere the lines are all there is.
    /// </summary>
    private static async Task<LocalNetwork> StartAsync(LocalNetworkOptions options, CancellationToken ct)
    {
        static string NodeLine(LocalNode node) => $"node {node.Number}: {node.Url.ToString().TrimEnd('/')}  id {node.NodeId[..16]}  data {node.DataDirectory}";
        string Awaiting(int number) => number <= options.Nodes ? $"starting node {number} of {options.Nodes}" : $"{options.Nodes} node(s) healthy";

        if (!Terminal.IsInteractive)
        {
            return await LocalNetwork.StartAsync(options, regional => Console.WriteLine($"regional: {regional}"), node => Console.WriteLine(NodeLine(node)), ct);
        }

        return await AnsiConsole.Status().StartAsync(
            "starting the regional node",
            context => LocalNetwork.StartAsync(
                options,
                regional =>
                {
                    AnsiConsole.WriteLine($"regional: {regional}");
                    context.Status(Markup.Escape(Awaiting(1)));
                },
                node =>
                {
                    AnsiConsole.WriteLine(NodeLine(node));
                    context.Status(Markup.Escape(Awaiting(node.Number + 1)));
                },
                ct));
    }

    private static async Task<int> RunNetworkAsync(LocalNetworkOptions options, CancellationToken cancellationToken)
    {
        using var stop = Terminal.OnStopSignal(cancellationToken);
        var ct = stop.Token;
        LocalNetwork network;
        try
        {
            network = await StartAsync(options, ct);
        }
        catch (LocalNetworkException e)
        {
            await Console.Error.WriteLineAsync($"dev-network: {e.Message}");
            return CliApp.CheckFailed;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return CliApp.Ok;
        }
        catch (IOException e)
        {
            await Console.Error.WriteLineAsync($"dev-network: cannot start the regional node: {e.Message}. Pass --port with a free port.");
            return CliApp.CheckFailed;
        }

        await using (network)
        {
            var regionalApi = new Uri($"http://127.0.0.1:{network.Regional.Port}");
            WriteState(regionalApi, network);
            Console.WriteLine($"dashboards: each node's URL; send a task with 'tenzro-node dev-network submit FILE.json'; Ctrl-C stops them all");
            try
            {
                await ReportPeersAsync(network.Regional, ct);
            }
            finally
            {
                Console.WriteLine("stopping the development network");
                RemoveState();
            }
        }

        return CliApp.Ok;
    }

    private static Command Submit()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "The task as JSON (docs/PROTOCOL.md section 6; taskId, requirements, reward and status may be left out)." };
        var regional = new Option<Uri?>("--regional") { Description = "The regional node's HTTP URL (default: the running dev-network's)." };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the result; 0 returns once the task is assigned.", DefaultValueFactory = _ => 120 };
        var json = ClientCommands.JsonOption();
        var command = new Command("submit", "Send a task through the development regional node and print each node's result.") { file, regional, timeout, json };
        command.SetAction(async (parse, ct) =>
        {
            var path = parse.GetValue(file)!;
            if (!path.Exists)
            {
                await Console.Error.WriteLineAsync($"{path.FullName} does not exist.");
                return CliApp.BadArguments;
            }

            JsonObject? task;
            try
            {
                task = JsonNode.Parse(await File.ReadAllTextAsync(path.FullName, ct)) as JsonObject;
            }
            catch (JsonException e)
            {
                await Console.Error.WriteLineAsync($"{path.FullName} is not JSON: {e.Message}");
                return CliApp.BadArguments;
            }

            if (task is null)
            {
                await Console.Error.WriteLineAsync($"{path.FullName} does not hold a JSON object (one task).");
                return CliApp.BadArguments;
            }

            var baseUrl = parse.GetValue(regional) ?? ReadState();
            if (baseUrl is null)
            {
                await Console.Error.WriteLineAsync("No dev-network is running: start one with 'tenzro-node dev-network', or pass --regional http://HOST:PORT.");
                return CliApp.Unreachable;
            }

            using var http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(10) };
            JsonObject? answer;
            HttpStatusCode status;
            try
            {
                using var response = await http.PostAsJsonAsync("/tasks", task, ct);
                status = response.StatusCode;
                answer = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
            {
                await Console.Error.WriteLineAsync($"Cannot reach the regional node at {baseUrl}: {e.Message}");
                return CliApp.Unreachable;
            }

            if (status != HttpStatusCode.Accepted || answer?["taskId"] is null)
            {
                await Console.Error.WriteLineAsync($"refused ({(int)status}): {answer?["title"]}: {answer?["detail"]}");
                return CliApp.CheckFailed;
            }

            var taskId = answer["taskId"]!.GetValue<string>();
            var assigned = answer["assignedNodes"]!.AsArray().Select(p => p!.GetValue<string>()).ToList();
            if (!parse.GetValue(json))
            {
                Console.WriteLine($"task {taskId} assigned to {assigned.Count} node(s): {string.Join(", ", assigned.Select(p => p.Length > 16 ? p[..16] : p))}");
            }

            if (parse.GetValue(timeout) <= 0)
            {
                return CliApp.Ok;
            }

            var final = await WaitForTaskAsync(http, taskId, assigned.Count, TimeSpan.FromSeconds(parse.GetValue(timeout)), ct);
            if (parse.GetValue(json))
            {
                Console.WriteLine((final ?? answer).ToJsonString(Indented));
            }
            else if (final is not null)
            {
                foreach (var (peer, result) in final["results"]!.AsObject())
                {
                    Console.WriteLine($"{(peer.Length > 16 ? peer[..16] : peer)}: {result?.ToJsonString()}");
                }

                foreach (var failure in final["failures"]!.AsArray())
                {
                    Console.WriteLine($"{failure?["peerId"]}: {failure?["type"]}: {failure?["reason"]}");
                }
            }

            var completed = final?["completed"]?.GetValue<bool>() == true;
            if (!completed && !parse.GetValue(json))
            {
                Console.WriteLine(final is null ? $"no result within {parse.GetValue(timeout)} s" : "the task did not complete on every node");
            }

            return completed ? CliApp.Ok : CliApp.CheckFailed;
        });
        return command;
    }

    /// <summary>Polls the regional node until every assigned node completed or failed the task, or the time is up.</summary>
    private static async Task<JsonObject?> WaitForTaskAsync(HttpClient http, string taskId, int assigned, TimeSpan timeout, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        JsonObject? last = null;
        async Task PollAsync(Action<string> report)
        {
            while (!deadline.IsCancellationRequested)
            {
                try
                {
                    last = await http.GetFromJsonAsync<JsonObject>($"/tasks/{Uri.EscapeDataString(taskId)}", deadline.Token);
                }
                catch (Exception e) when (e is HttpRequestException or JsonException)
                {
                    return;
                }

                var done = last?["results"]?.AsObject().Count ?? 0;
                var failed = last?["failures"]?.AsArray().Count ?? 0;
                report($"{taskId}: {done} of {assigned} node(s) done, {failed} failed");
                if (last?["completed"]?.GetValue<bool>() == true || done + failed >= assigned)
                {
                    return;
                }

                await Task.Delay(200, deadline.Token);
            }
        }

        try
        {
            await Terminal.ShowProgressAsync($"{taskId}: waiting", PollAsync);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
        }

        return last;
    }

    /// <summary>Prints a line whenever a node joins or leaves, until <paramref name="ct"/> is cancelled.</summary>
    private static async Task ReportPeersAsync(DevRegionalNode regional, CancellationToken ct)
    {
        var known = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var peers = regional.Snapshot()["peers"]!.AsArray().Select(p => p!["peerId"]!.GetValue<string>()).ToHashSet(StringComparer.Ordinal);
                foreach (var joined in peers.Except(known))
                {
                    Console.WriteLine($"joined: {joined}");
                }

                foreach (var left in known.Except(peers))
                {
                    Console.WriteLine($"left: {left}");
                }

                known = peers;
                await Task.Delay(500, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private static void WriteState(Uri regionalApi, LocalNetwork network)
    {
        var state = new JsonObject
        {
            ["pid"] = Environment.ProcessId,
            ["regional"] = regionalApi.ToString(),
            ["nodes"] = new JsonArray([.. network.Nodes.Select(n => (JsonNode)n.Url.ToString())]),
        };
        File.WriteAllText(StateFile, state.ToJsonString());
    }

    private static void RemoveState()
    {
        if (File.Exists(StateFile) && JsonNode.Parse(File.ReadAllText(StateFile))?["pid"]?.GetValue<int>() == Environment.ProcessId)
        {
            File.Delete(StateFile);
        }
    }

    private static Uri? ReadState()
    {
        try
        {
            var state = JsonNode.Parse(File.ReadAllText(StateFile));
            var pid = state?["pid"]?.GetValue<int>() ?? 0;
            using var owner = Process.GetProcessById(pid);
            return Uri.TryCreate(state?["regional"]?.GetValue<string>(), UriKind.Absolute, out var url) ? url : null;
        }
        catch (Exception e) when (e is IOException or JsonException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }
}
