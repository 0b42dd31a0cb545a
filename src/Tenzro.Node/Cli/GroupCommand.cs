using System.CommandLine;
using System.Text.Json.Nodes;

namespace Tenzro.Node.Cli;

/// <summary><c>group</c>: the running node's aggregation group (<c>GET /api/aggregation</c>).</summary>
internal static class GroupCommand
{
    public static Command Group()
    {
        var url = ClientCommands.UrlOption();
        var json = ClientCommands.JsonOption();
        var command = new Command("group", "Show the running node's aggregation group: state, leader, members and pooled capacity.") { url, json };
        command.SetAction(async (parse, ct) =>
        {
            var (code, body, error) = await ClientCommands.GetAsync(parse.GetValue(url), "/api/aggregation", ct);
            if (body is null)
            {
                return ClientCommands.Unreachable(error);
            }

            if (parse.GetValue(json))
            {
                Console.WriteLine(body.ToJsonString(ClientCommands.Indented));
                return code == 200 ? CliApp.Ok : CliApp.CheckFailed;
            }

            if (code != 200)
            {
                await Console.Error.WriteLineAsync($"The node answered {code}: {body["detail"]}");
                return CliApp.CheckFailed;
            }

            Print(body);
            return CliApp.Ok;
        });
        return command;
    }

    private static void Print(JsonObject view)
    {
        var state = view["state"]?.ToString() ?? "none";
        if (view["enabled"]?.GetValue<bool>() == false)
        {
            Console.WriteLine("Aggregation is off (AGGREGATION_ENABLED=false).");
            return;
        }

        if (state == "none")
        {
            Console.WriteLine("Not in a group. See tenzro-node peers, and GET /api/aggregation/candidates for why linked peers do or do not qualify (docs/AGGREGATION.md).");
            PrintExcluded(view);
            return;
        }

        Console.WriteLine($"group   {view["groupId"]}");
        Console.WriteLine($"state   {state}");
        Console.WriteLine($"leader  {view["leaderId"]?.ToString() ?? "none (an election is under way)"}");
        var pooled = view["pooled"];
        var speed = pooled?["cpuOpsPerSecond"] is { } pooledOps ? $" ({pooledOps} ops/s)" : string.Empty;
        Console.WriteLine($"pooled  {pooled?["cpuCores"]} cores{speed}, {pooled?["memoryMB"]} MB memory, {pooled?["storageMB"]} MB storage, {pooled?["gpuCount"]} GPUs; {string.Join(",", pooled?["capabilities"]?.AsArray().Select(c => c?.ToString()) ?? [])}");
        Console.WriteLine();
        Console.WriteLine($"{"member",-16}  {"role",-8}  {"alive",-5}  free");
        foreach (var member in view["members"]?.AsArray() ?? [])
        {
            var id = member?["id"]?.ToString() ?? "?";
            var free = member?["free"];
            Console.WriteLine(string.Join("  ",
                (id.Length > 16 ? id[..16] : id).PadRight(16),
                (member?["role"]?.ToString() ?? "?").PadRight(8),
                (member?["alive"]?.GetValue<bool>() == true ? "yes" : "no").PadRight(5),
                free is null ? "-" : $"{free["cpuCores"]} cores, {free["memoryMB"]} MB{(free["cpuOpsPerSecond"] is { } ops ? $", {ops} ops/s" : "")}").TrimEnd());
        }

        PrintExcluded(view);
    }

    private static void PrintExcluded(JsonObject view)
    {
        if (view["excluded"] is not JsonArray { Count: > 0 } excluded)
        {
            return;
        }

        Console.WriteLine();
        Console.WriteLine($"{"excluded",-16}  {"reason",-13}  until");
        foreach (var entry in excluded)
        {
            var id = entry?["id"]?.ToString() ?? "?";
            Console.WriteLine($"{(id.Length > 16 ? id[..16] : id),-16}  {entry?["reason"],-13}  {entry?["until"]}");
        }
    }
}
