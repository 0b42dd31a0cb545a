using System.CommandLine;
using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Cli;

/// <summary>
/// The <c>tenzro-node</c> command line: with no subcommand (or <c>run</c>) it runs the node; the other
/// subcommands talk to a running node's API or to its data directory.
/// </summary>
/// <remarks>
/// Exit codes (CONTRACTS.md): 0 success; 1 the thing checked is wrong; 2 the node cannot be reached or the
/// arguments are bad; 78 bad configuration.
/// </remarks>
internal static class CliApp
{
    public const int Ok = 0;
    public const int CheckFailed = 1;
    public const int Unreachable = 2;
    public const int BadArguments = 2;

    public static async Task<int> RunAsync(string[] args)
    {
        var root = Build();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                await Console.Error.WriteLineAsync(error.Message);
            }

            await Console.Error.WriteLineAsync("Run 'tenzro-node --help' for usage.");
            return BadArguments;
        }

        NodeClient.ApiKeyFile = parse.GetValue(NodeClient.ApiKeyFileOption);
        if (NodeClient.ApiKeyFile is { Exists: false } keyFile)
        {
            await Console.Error.WriteLineAsync($"--api-key-file {keyFile.FullName} does not exist; give the path of a file holding one key tnz_<id>_<secret>.");
            return BadArguments;
        }

        return await parse.InvokeAsync();
    }

    public static RootCommand Build()
    {
        var root = new RootCommand("Tenzro Local Node: lends this machine's computing power to the Tenzro Network.");
        var run = RunCommand.Create();
        root.Subcommands.Add(run);
        foreach (var option in run.Options)
        {
            root.Options.Add(option);
        }

        root.Action = run.Action;
        root.Options.Add(NodeClient.ApiKeyFileOption);
        foreach (var version in root.Options.OfType<VersionOption>())
        {
            version.Action = new PrintVersionAction();
        }

        root.Subcommands.Add(ClientCommands.Status());
        root.Subcommands.Add(ClientCommands.HealthCheck());
        root.Subcommands.Add(ClientCommands.Submit());
        root.Subcommands.Add(InferCommand.Create());
        root.Subcommands.Add(ClientCommands.Drain(drain: true));
        root.Subcommands.Add(ClientCommands.Drain(drain: false));
        root.Subcommands.Add(ResourceCommands.ResourceCheck());
        root.Subcommands.Add(ResourceCommands.ClearResources());
        root.Subcommands.Add(MaintenanceCommands.CleanLogs());
        root.Subcommands.Add(MaintenanceCommands.BackupConfig());
        root.Subcommands.Add(DataCommands.RestoreConfig());
        root.Subcommands.Add(DataCommands.BackupData());
        root.Subcommands.Add(DataCommands.RestoreData());
        root.Subcommands.Add(ProfileCommand.Create());
        root.Subcommands.Add(NetworkCommands.ResetConnections());
        root.Subcommands.Add(NetworkCommands.NetworkDiagnostics());
        root.Subcommands.Add(NetworkCommands.Bandwidth());
        root.Subcommands.Add(KeyCommands.Create());
        root.Subcommands.Add(PeerCommands.Peers());
        root.Subcommands.Add(GroupCommand.Group());
        root.Subcommands.Add(DevNetworkCommands.DevRegional());
        root.Subcommands.Add(DevNetworkCommands.DevNetwork());
        root.Subcommands.Add(WorkerCommand.Create());
        return root;
    }

    /// <summary><c>--version</c> prints the version <c>/status</c> reports (without the source revision).</summary>
    private sealed class PrintVersionAction : System.CommandLine.Invocation.SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            Console.Out.WriteLine(Api.StatusApi.Version);
            return Ok;
        }
    }

    /// <summary>The node's URL from --url, else http://127.0.0.1:{PORT} with PORT read like the node reads it.</summary>
    public static Uri DefaultUrl()
    {
        var configuration = NodeSettings.BuildConfiguration([], NodeSettings.ProcessEnvironment(), Path.Combine(Directory.GetCurrentDirectory(), ".env"));
        var port = configuration["PORT"] ?? SettingCatalog.Get("PORT").Default;
        var host = configuration["HOST"] ?? "127.0.0.1";
        if (host is "0.0.0.0" or "::" or "*" or "+")
        {
            host = "127.0.0.1";
        }

        return new Uri($"http://{host}:{port}");
    }
}
