using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Cli;

/// <summary><c>resource-check</c> and <c>clear-resources</c>.</summary>
internal static class ResourceCommands
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Command ResourceCheck()
    {
        var url = ClientCommands.UrlOption();
        var json = ClientCommands.JsonOption();
        var command = new Command("resource-check", "Show capacity, limits, usage and reservations; exit 1 under pressure or with an orphaned reservation.") { url, json };
        command.SetAction(async (parse, ct) =>
        {
            var (_, limits, error) = await ClientCommands.GetAsync(parse.GetValue(url), "/api/resources/limits", ct);
            var (_, status, _) = await ClientCommands.GetAsync(parse.GetValue(url), "/api/resources/status", ct);
            if (limits is null || status is null)
            {
                await Console.Error.WriteLineAsync($"Cannot reach the node at {error}. Is it running? Pass --url to point at it.");
                return CliApp.Unreachable;
            }

            var pressure = status["pressure"]?.GetValue<string>();
            var orphaned = status["orphaned"]?.AsArray().Select(n => n!.GetValue<string>()).ToList() ?? [];
            if (parse.GetValue(json))
            {
                Console.WriteLine(new JsonObject { ["limits"] = limits.DeepClone(), ["status"] = status.DeepClone() }.ToJsonString(Indented));
            }
            else
            {
                var usage = status["usage"]!;
                var table = new Table().Border(TableBorder.Rounded).AddColumn("resource").AddColumn("capacity").AddColumn("allowed").AddColumn("reserved").AddColumn("free").AddColumn("in use");
                table.AddRow("cpu (cores)", $"{limits["capacity"]!["cpuCores"]}", $"{limits["allowed"]!["cpu"]}", $"{status["reserved"]!["cpu"]}", $"{status["free"]!["cpu"]}", $"{usage["hostCpuPercent"]} %");
                table.AddRow("memory (MB)", Mb(limits["capacity"]!["memoryBytes"]), $"{limits["allowed"]!["memoryMB"]}", $"{status["reserved"]!["memoryMB"]}", $"{status["free"]!["memoryMB"]}", $"{usage["memoryUsedPercent"]} %");
                table.AddRow("storage (MB)", Mb(limits["capacity"]!["storageFreeBytes"]) + " free", $"{limits["allowed"]!["storageMB"]}", $"{status["reserved"]!["storageMB"]}", $"{status["free"]!["storageMB"]}", $"{usage["storageUsedPercent"]} %");
                table.AddRow("gpus", $"{limits["capacity"]!["gpuCount"]}", $"{limits["allowed"]!["gpuCount"]}", $"{status["reserved"]!["gpuCount"]}", $"{status["free"]!["gpuCount"]}", "");
                AnsiConsole.Write(table);
                Console.WriteLine($"tasks: {status["running"]} running, {status["queued"]} queued; thresholds: memory {limits["thresholds"]!["criticalMemoryPercent"]} %, storage {limits["thresholds"]!["criticalStoragePercent"]} %");
                foreach (var reservation in status["reservations"]!.AsArray())
                {
                    var note = !reservation!["running"]!.GetValue<bool>() ? "  ORPHANED" : reservation["paused"]?.GetValue<bool>() == true ? "  paused" : "";
                    Console.WriteLine($"  reservation {reservation["taskId"]}: cpu {reservation["cpu"]}, {reservation["memoryMB"]} MB{note}");
                }

                if (status["userActive"] is { } userActive)
                {
                    var user = status["idleFor"] is { } seconds
                        ? $"{(userActive.GetValue<bool>() ? "active" : "idle")} (last activity {seconds} s ago, from {status["activitySource"]})"
                        : "idle (headless: no local session and no input device)";
                    Console.WriteLine($"user: {user}; {status["limitsInForce"]} limits in force: cpu {status["allowed"]!["cpu"]}, {status["allowed"]!["memoryMB"]} MB; {status["paused"]!.AsArray().Count} task(s) paused");
                }

                Console.WriteLine(pressure is null ? "pressure: none" : $"pressure: {pressure}");
                if (orphaned.Count > 0)
                {
                    Console.WriteLine($"{orphaned.Count} orphaned reservation(s): run 'tenzro-node clear-resources' to release them.");
                }
            }

            return pressure is null && orphaned.Count == 0 ? CliApp.Ok : CliApp.CheckFailed;
        });
        return command;
    }

    public static Command ClearResources()
    {
        var url = ClientCommands.UrlOption();
        var command = new Command("clear-resources", "Release reservations no running task owns (through the running node), or clean a stopped node's leftovers.") { url };
        command.SetAction(async (parse, ct) =>
        {
            var baseUrl = parse.GetValue(url) ?? CliApp.DefaultUrl();
            using var http = NodeClient.Create(baseUrl, TimeSpan.FromSeconds(10));
            try
            {
                var response = await http.PostAsync("/api/resources/clear", null, ct);
                var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct));
                if (!response.IsSuccessStatusCode)
                {
                    await Console.Error.WriteLineAsync($"The node refused ({(int)response.StatusCode}): {body?["detail"]}");
                    return CliApp.CheckFailed;
                }

                var released = body!["released"]!.AsArray();
                Console.WriteLine(released.Count == 0
                    ? "no orphaned reservations: nothing to release"
                    : $"released {released.Count} reservation(s): {string.Join(", ", released.Select(r => r!.GetValue<string>()))}");
                return CliApp.Ok;
            }
            catch (HttpRequestException)
            {
                return ClearStopped();
            }
        });
        return command;
    }

    /// <summary>
    /// With the node stopped there is no ledger (it lives in the running node's memory and is rebuilt at
    /// start, when interrupted tasks are requeued), so what can leak is the per-task scratch directories.
    /// </summary>
    private static int ClearStopped()
    {
        var configuration = NodeSettings.BuildConfiguration([], NodeSettings.ProcessEnvironment(), Path.Combine(Directory.GetCurrentDirectory(), ".env"));
        NodeSettings settings;
        try
        {
            settings = NodeSettings.Load(configuration);
        }
        catch (ConfigurationException e)
        {
            Console.Error.WriteLine(e.Message);
            return ConfigurationException.ExitCode;
        }

        if (File.Exists(Path.Combine(settings.Storage.DataDirectory, "node.pid")))
        {
            Console.Error.WriteLine($"A node seems to run on {settings.Storage.DataDirectory} but does not answer; pass --url to reach it.");
            return CliApp.Unreachable;
        }

        var scratch = Path.Combine(settings.Storage.DataDirectory, "scratch");
        // A node killed while a task ran leaves that task's scratch image mounted: unmounted first, so that it is not emptied through its mount.
        Core.Tasks.ScratchMounts.UnmountUnder(scratch);
        var directories = Directory.Exists(scratch) ? Directory.GetDirectories(scratch) : [];
        long freed = 0;
        foreach (var directory in directories)
        {
            freed += new DirectoryInfo(directory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
            Directory.Delete(directory, recursive: true);
        }

        Console.WriteLine($"the node is stopped: reservations live only in a running node, so none is held; removed {directories.Length} leftover task scratch director{(directories.Length == 1 ? "y" : "ies")} ({freed} bytes) under {scratch}");
        return CliApp.Ok;
    }

    private static string Mb(JsonNode? bytes) => bytes is null ? "?" : (bytes.GetValue<long>() / (1024 * 1024)).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
