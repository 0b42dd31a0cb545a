using System.CommandLine;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Tenzro.Node.Cli;

/// <summary>
/// <c>tenzro-node profile [--json] [--rebenchmark] [--url]</c>: the running node's hardware profile as
/// tables, or as JSON; <c>--rebenchmark</c> makes the node measure its benchmarks again first.
/// </summary>
internal static class ProfileCommand
{
    private const double GiB = 1024.0 * 1024 * 1024;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Command Create()
    {
        var url = ClientCommands.UrlOption();
        var json = ClientCommands.JsonOption();
        var rebenchmark = new Option<bool>("--rebenchmark") { Description = "Run the hardware benchmarks again now (about 3 s) and store the new figures." };
        var command = new Command("profile", "Show the running node's hardware profile: CPU, memory, storage, GPUs, network, benchmarks, tier and what the node tuned from them.") { url, json, rebenchmark };
        command.SetAction(async (parse, ct) =>
        {
            var baseUrl = parse.GetValue(url) ?? CliApp.DefaultUrl();
            using var http = NodeClient.Create(baseUrl, TimeSpan.FromSeconds(60));
            HttpResponseMessage response;
            try
            {
                response = parse.GetValue(rebenchmark)
                    ? await http.PostAsync("/api/hardware/benchmark", null, ct)
                    : await http.GetAsync("/api/hardware/profile", ct);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                await Console.Error.WriteLineAsync($"Cannot reach the node at {baseUrl}: {e.Message}. Is it running? Pass --url to point at it.");
                return CliApp.Unreachable;
            }

            JsonObject? body;
            try
            {
                body = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
            }
            catch (JsonException)
            {
                body = null;
            }

            if (!response.IsSuccessStatusCode || body is null)
            {
                await Console.Error.WriteLineAsync($"The node answered {(int)response.StatusCode}: {body?["detail"] ?? body?.ToJsonString() ?? "no JSON body"}");
                return CliApp.CheckFailed;
            }

            if (parse.GetValue(json))
            {
                Console.WriteLine(body.ToJsonString(Indented));
            }
            else
            {
                Render(body);
            }

            return CliApp.Ok;
        });
        return command;
    }

    /// <summary>Writes the profile as tables: machine, GPUs, network interfaces, benchmarks.</summary>
    public static void Render(JsonObject profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var cpu = profile["cpu"];
        var memory = profile["memory"];
        var storage = profile["storage"];
        var os = profile["os"];
        var tier = profile["tier"];
        var network = profile["network"];

        var machine = new Table().Title("[bold]Hardware profile[/]").AddColumn("field").AddColumn("value").Border(TableBorder.Rounded);
        Row(machine, "host", $"{os?["hostname"]}: {os?["name"]}, kernel {os?["kernel"]}, {os?["runtime"]}");
        var model = cpu?["model"]?.ToString() ?? "?";
        var vendor = cpu?["vendor"]?.ToString();
        Row(machine, "cpu", $"{(vendor is null || model.StartsWith(vendor, StringComparison.OrdinalIgnoreCase) ? "" : vendor + " ")}{model} ({cpu?["architecture"]})");
        Row(machine, "cores", $"{cpu?["usableCores"]} usable of {cpu?["logicalCores"]} logical, {cpu?["physicalCores"]?.ToString() ?? "?"} physical");
        Row(machine, "clock", Clock(cpu));
        Row(machine, "features", string.Join(' ', cpu?["features"]?.AsArray().Select(f => f?.ToString()) ?? []));
        Row(machine, "memory", $"{Gib(memory?["usableBytes"])} usable of {Gib(memory?["totalBytes"])} total, {Gib(memory?["availableBytes"])} available");
        Row(machine, "swap", $"{Gib(memory?["swapFreeBytes"])} free of {Gib(memory?["swapTotalBytes"])}");
        Row(machine, "storage", $"{Gib(storage?["freeBytes"])} free of {Gib(storage?["totalBytes"])} at {storage?["path"]}");
        Row(machine, "filesystem", $"{storage?["filesystem"] ?? "?"} on {storage?["device"] ?? "no block device"} ({Rotational(storage?["rotational"])}), mounted at {storage?["mountPoint"] ?? "?"}");
        Row(machine, "bandwidth", network?["bandwidthMbps"] is { } mbps ? $"{mbps} Mbps ({network?["bandwidthSource"]})" : "unknown (set BANDWIDTH_TEST_URL to measure it, or BANDWIDTH_MBPS)");
        if (network?["measurement"] is { } measured)
        {
            Row(machine, "  measured", Measurement(measured));
        }

        Row(machine, "tier", $"{tier?["configured"]} configured, qualifies for {tier?["qualified"]}");
        foreach (var shortfall in tier?["shortfalls"]?.AsArray() ?? [])
        {
            Row(machine, "  short of tier", shortfall?.ToString() ?? "");
        }

        var limits = profile["limitsApplied"]?.AsArray() ?? [];
        Row(machine, "limits applied", limits.Count == 0
            ? "none"
            : string.Join("; ", limits.Select(l => $"{l?["resource"]} {Limit(l)} by {l?["mechanism"]}")));
        Row(machine, "fingerprint", profile["fingerprint"]?.ToString() ?? "?");
        foreach (var missing in profile["notDetected"]?.AsArray() ?? [])
        {
            Row(machine, "not detected", missing?.ToString() ?? "");
        }

        AnsiConsole.Write(machine);

        var gpus = new Table().Title("[bold]GPUs[/]").AddColumn("vendor").AddColumn("name").AddColumn("memory").AddColumn("driver").AddColumn("bus").AddColumn("found by").Border(TableBorder.Rounded);
        foreach (var gpu in profile["gpus"]?.AsArray() ?? [])
        {
            var driver = $"{gpu?["driver"]} {gpu?["driverVersion"]}{(gpu?["cudaVersion"] is { } cuda ? $", CUDA {cuda}" : "")}".Trim();
            gpus.AddRow(Cells(gpu?["vendor"], gpu?["name"], gpu?["memoryBytes"] is null ? "?" : Gib(gpu["memoryBytes"]), driver, gpu?["busId"], gpu?["source"]));
        }

        if (gpus.Rows.Count == 0)
        {
            gpus.AddRow("none", "", "", "", "", "");
        }

        AnsiConsole.Write(gpus);

        var interfaces = new Table().Title("[bold]Network interfaces[/]").AddColumn("name").AddColumn("state").AddColumn("link speed").AddColumn("kind").Border(TableBorder.Rounded);
        foreach (var nic in network?["interfaces"]?.AsArray() ?? [])
        {
            interfaces.AddRow(Cells(nic?["name"], nic?["state"], nic?["speedMbps"] is { } speed ? $"{speed} Mbps" : "unknown", nic?["virtual"]?.GetValue<bool>() == true ? "virtual" : "physical"));
        }

        AnsiConsole.Write(interfaces);

        var run = profile["benchmarkRun"];
        var benchmarks = new Table()
            .Title($"[bold]Benchmarks[/] ({Markup.Escape(run?["state"]?.ToString() ?? "?")}{(run?["measuredAt"] is { } at ? $" at {Markup.Escape(at.ToString())}" : "")})")
            .AddColumn("benchmark").AddColumn(new TableColumn("value").RightAligned()).AddColumn("unit").Border(TableBorder.Rounded);
        foreach (var (name, figure) in profile["benchmarks"]?.AsObject() ?? [])
        {
            var value = figure?["value"]?.GetValue<double>() ?? 0;
            benchmarks.AddRow(Cells(name, value.ToString(value >= 1000 ? "N0" : "0.###", CultureInfo.InvariantCulture), figure?["unit"]));
        }

        if (benchmarks.Rows.Count == 0)
        {
            benchmarks.AddRow(run?["state"]?.ToString() == "skipped" ? "none yet: run 'tenzro-node profile --rebenchmark'" : "none yet", "", "");
        }

        AnsiConsole.Write(benchmarks);
        if (run?["error"] is { } error)
        {
            AnsiConsole.MarkupLine($"[yellow]last benchmark run: {Markup.Escape(error.ToString())}[/]");
        }

        // One choice a line and its reason below, unwrapped: the reasons are long and a table column would break names.
        AnsiConsole.MarkupLine("[bold]Optimizations[/] (tuned from this profile)");
        var choices = profile["optimizations"]?.AsArray() ?? [];
        foreach (var choice in choices)
        {
            var value = choice?["value"] is JsonValue v && v.TryGetValue<string>(out var text) ? text : choice?["value"]?.ToJsonString();
            Console.WriteLine($"  {choice?["name"]} = {value}");
            Console.WriteLine($"      {choice?["reason"]}{(choice?["setting"] is { } setting ? $" (overridden by {setting})" : "")}");
        }

        if (choices.Count == 0)
        {
            Console.WriteLine("  none");
        }
    }

    private static void Row(Table table, string field, string value) => table.AddRow(Markup.Escape(field), Markup.Escape(value));

    private static string[] Cells(params object?[] values) => values.Select(v => Markup.Escape(v?.ToString() ?? "")).ToArray();

    private static string Gib(JsonNode? bytes) =>
        bytes is null ? "?" : string.Create(CultureInfo.InvariantCulture, $"{bytes.GetValue<double>() / GiB:0.##} GiB");

    private static string Clock(JsonNode? cpu)
    {
        var parts = new List<string>();
        foreach (var (key, label) in new[] { ("baseMhz", "base"), ("maxMhz", "max"), ("currentMhz", "current") })
        {
            if (cpu?[key] is { } mhz)
            {
                parts.Add($"{label} {mhz} MHz");
            }
        }

        return parts.Count == 0 ? "not reported" : string.Join(", ", parts);
    }

    /// <summary>"480 Mbps down, 95 Mbps up, 12 ms round trip against URL (measured at …)", or the state and the reason.</summary>
    private static string Measurement(JsonNode measured)
    {
        var state = measured["state"]?.ToString();
        var figures = measured["downloadMbps"] is { } down
            ? $"{down} Mbps down, {(measured["uploadMbps"] is { } up ? $"{up} Mbps up" : "upload not measured")}, {measured["latencyMs"]} ms round trip"
            : "no figures yet";
        var error = measured["error"] is { } e ? $"; {e}" : "";
        return $"{figures} against {measured["target"]} ({state}{(measured["measuredAt"] is { } at ? $", {at}" : "")}){error}";
    }

    private static string Rotational(JsonNode? rotational) => rotational is null ? "rotational unknown" : rotational.GetValue<bool>() ? "rotational" : "solid state";

    private static string Limit(JsonNode? limit) =>
        limit?["unit"]?.ToString() == "bytes" ? Gib(limit["value"]) : $"{limit?["value"]} {limit?["unit"]}";
}
