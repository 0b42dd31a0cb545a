using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Tenzro.Node.Cli;

/// <summary><c>tenzro-node keys create|list|revoke|rotate</c>: the node's API keys, through <c>/api/keys</c> (admin).</summary>
internal static class KeyCommands
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public static Command Create()
    {
        var keys = new Command("keys", "Make, list, revoke and rotate the running node's API keys (admin: on the node's machine the admin token is used).");
        keys.Subcommands.Add(CreateKey());
        keys.Subcommands.Add(List());
        keys.Subcommands.Add(Change("revoke", "Revoke a key at once; requests with it get 401.", HttpMethod.Delete, id => $"/api/keys/{Uri.EscapeDataString(id)}"));
        keys.Subcommands.Add(Change("rotate", "Give a key a new secret, shown once; the old secret keeps working for one hour.", HttpMethod.Post, id => $"/api/keys/{Uri.EscapeDataString(id)}/rotate"));
        return keys;
    }

    private static Command CreateKey()
    {
        var url = ClientCommands.UrlOption();
        var role = new Option<string>("--role", "-r") { Description = "reader, submitter or admin.", Required = true };
        role.AcceptOnlyFromAmong("reader", "submitter", "admin");
        var name = new Option<string?>("--name", "-n") { Description = "A name to tell the key by (who or what uses it)." };
        var expires = new Option<string?>("--expires") { Description = "Lifetime, e.g. 30d, 12h or 90m; default: never expires." };
        var command = new Command("create", "Make an API key and print it once (only its hash is kept).") { role, name, expires, url };
        command.SetAction(async (parse, ct) =>
        {
            var body = new JsonObject { ["role"] = parse.GetValue(role) };
            if (parse.GetValue(name) is { } n)
            {
                body["name"] = n;
            }

            if (parse.GetValue(expires) is { } e)
            {
                body["expires"] = e;
            }

            var (code, answer, error) = await ClientCommands.SendAsync(parse.GetValue(url), HttpMethod.Post, "/api/keys", Timeout, ct, body);
            if (Refused(code, answer, error) is { } exit)
            {
                return exit;
            }

            Console.WriteLine(answer!["key"]?.GetValue<string>());
            await Console.Error.WriteLineAsync($"key {answer["id"]} ({answer["role"]}{(answer["expiresAt"] is { } at ? $", expires {at}" : "")}): shown this once; keep it safe.");
            return CliApp.Ok;
        });
        return command;
    }

    private static Command List()
    {
        var url = ClientCommands.UrlOption();
        var json = ClientCommands.JsonOption();
        var command = new Command("list", "List the keys: id, name, role, state, dates (never a secret).") { url, json };
        command.SetAction(async (parse, ct) =>
        {
            var (code, answer, error) = await ClientCommands.SendAsync(parse.GetValue(url), HttpMethod.Get, "/api/keys", Timeout, ct);
            if (Refused(code, answer, error) is { } exit)
            {
                return exit;
            }

            if (parse.GetValue(json))
            {
                Console.WriteLine(answer!.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
                return CliApp.Ok;
            }

            var table = new Table().AddColumns("id", "name", "role", "state", "source", "created", "expires").Border(TableBorder.Rounded);
            foreach (var key in answer!["keys"]?.AsArray() ?? [])
            {
                table.AddRow([.. new[] { "id", "name", "role", "state", "source", "createdAt", "expiresAt" }.Select(f => Markup.Escape(key?[f]?.ToString() ?? "-"))]);
            }

            AnsiConsole.Write(table);
            return CliApp.Ok;
        });
        return command;
    }

    private static Command Change(string verb, string description, HttpMethod method, Func<string, string> path)
    {
        var url = ClientCommands.UrlOption();
        var id = new Argument<string>("id") { Description = "The key's id (the part between tnz_ and the second _; see 'keys list')." };
        var command = new Command(verb, description) { id, url };
        command.SetAction(async (parse, ct) =>
        {
            var (code, answer, error) = await ClientCommands.SendAsync(parse.GetValue(url), method, path(parse.GetValue(id)!), Timeout, ct);
            if (Refused(code, answer, error) is { } exit)
            {
                return exit;
            }

            if (answer!["key"]?.GetValue<string>() is { } key)
            {
                Console.WriteLine(key);
                await Console.Error.WriteLineAsync($"key {answer["id"]} has a new secret, shown this once; the old one works until {answer["previousSecretUntil"]}.");
            }
            else
            {
                Console.WriteLine($"key {answer["id"]} is {answer["state"]}");
            }

            return CliApp.Ok;
        });
        return command;
    }

    /// <summary>The exit code when the node did not do it (unreachable, refused), after saying why; null on success.</summary>
    private static int? Refused(int code, JsonObject? answer, string? error)
    {
        if (code == 0)
        {
            return ClientCommands.Unreachable(error);
        }

        if (code is >= 200 and < 300 && answer is not null)
        {
            return null;
        }

        return ClientCommands.Refused(code, answer);
    }
}
