using System.CommandLine;

namespace Tenzro.Node.Cli;

/// <summary><c>peers</c>: the running node's peer table.</summary>
internal static class PeerCommands
{
    public static Command Peers()
    {
        var url = ClientCommands.UrlOption();
        var json = ClientCommands.JsonOption();
        var command = new Command("peers", "List the peers the running node knows: how each was found, its link, round trip and last error.") { url, json };
        command.SetAction(async (parse, ct) =>
        {
            return await ListAsync(parse.GetValue(url), "/api/peers", parse.GetValue(json), ct);
        });
        command.Subcommands.Add(Find());
        command.Subcommands.Add(Block(block: true));
        command.Subcommands.Add(Block(block: false));
        return command;
    }

    /// <summary><c>peers find --tier T [--region R]</c>: searches the DHT through the running node (<c>GET /api/peers?tier=&amp;region=</c>).</summary>
    private static Command Find()
    {
        var url = ClientCommands.UrlOption();
        var json = ClientCommands.JsonOption();
        var tier = new Option<string>("--tier") { Description = "The tier to look for: " + string.Join(", ", Core.Configuration.NodeSettings.Tiers) + ".", Required = true };
        var region = new Option<string?>("--region") { Description = "The region to look in (default: the node's REGION)." };
        var command = new Command("find", "Search the DHT for nodes of a tier in a region, through the running node; the nodes found join its peer table (found by dht).") { url, json, tier, region };
        command.SetAction(async (parse, ct) =>
        {
            var query = "/api/peers?tier=" + Uri.EscapeDataString(parse.GetValue(tier)!)
                + (parse.GetValue(region) is { } r ? "&region=" + Uri.EscapeDataString(r) : string.Empty);
            return await ListAsync(parse.GetValue(url), query, parse.GetValue(json), ct);
        });
        return command;
    }

    /// <summary><c>peers block ID</c> and <c>peers unblock ID</c> (admin): keep a peer out of links and groups, or let it back.</summary>
    private static Command Block(bool block)
    {
        var url = ClientCommands.UrlOption();
        var id = new Argument<string>("id") { Description = "The peer's node id (64 hex), as tenzro-node peers --json lists it." };
        var command = new Command(block ? "block" : "unblock", block
            ? "Keep a peer out: close its link, refuse its links and keep it out of aggregation groups, across restarts."
            : "Lift the block of a peer.") { url, id };
        command.SetAction(async (parse, ct) =>
        {
            var peer = parse.GetValue(id)!;
            var (code, body, error) = await ClientCommands.SendAsync(parse.GetValue(url), block ? HttpMethod.Post : HttpMethod.Delete, $"/api/peers/{Uri.EscapeDataString(peer)}/block", TimeSpan.FromSeconds(10), ct);
            if (body is null && code == 0)
            {
                return ClientCommands.Unreachable(error);
            }

            if (code != 200)
            {
                await Console.Error.WriteLineAsync($"The node answered {code}: {body?["detail"]}");
                return CliApp.CheckFailed;
            }

            Console.WriteLine(block
                ? $"blocked {peer}{(body?["linkClosed"]?.GetValue<bool>() == true ? "; its link was closed" : string.Empty)}"
                : $"unblocked {peer}");
            return CliApp.Ok;
        });
        return command;
    }

    private static async Task<int> ListAsync(Uri? url, string path, bool asJson, CancellationToken ct)
    {
        var (code, body, error) = await ClientCommands.GetAsync(url, path, ct);
        if (body is null)
        {
            return ClientCommands.Unreachable(error);
        }

        if (asJson)
        {
            Console.WriteLine(body.ToJsonString(ClientCommands.Indented));
            return code == 200 ? CliApp.Ok : CliApp.CheckFailed;
        }

        if (code != 200)
        {
            await Console.Error.WriteLineAsync($"The node answered {code}: {body["detail"]}");
            return CliApp.CheckFailed;
        }

        var peers = body["peers"]?.AsArray() ?? [];
        if (peers.Count == 0)
        {
            Console.WriteLine("No peers known. Add tenzro://<node id>@host:port entries to BOOTSTRAP_NODES to link with other nodes (docs/NETWORK.md).");
            return CliApp.Ok;
        }

        // Plain aligned lines rather than a table: ids and addresses stay whole in any terminal width and in pipes.
        Console.WriteLine($"{"id",-16}  {"link",-10}  {"rtt ms",8}  {"found by",-18}  {"tier / region",-24}  addresses  last error");
        foreach (var peer in peers)
        {
            var id = peer?["id"]?.ToString() ?? "?";
            Console.WriteLine(string.Join("  ",
                (id.Length > 16 ? id[..16] : id).PadRight(16),
                (peer?["link"]?.ToString() ?? "?").PadRight(10),
                (peer?["rttMs"]?.ToString() ?? "-").PadLeft(8),
                string.Join(",", peer?["foundBy"]?.AsArray().Select(f => f?.ToString()) ?? []).PadRight(18),
                $"{peer?["tier"] ?? "?"} / {peer?["region"] ?? "?"}".PadRight(24),
                string.Join(",", peer?["addresses"]?.AsArray().Select(a => a?.ToString()) ?? []),
                peer?["lastError"]?.ToString() ?? string.Empty).TrimEnd());
        }

        return CliApp.Ok;
    }
}
