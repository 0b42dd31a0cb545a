using System.CommandLine;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Hosting;

namespace Tenzro.Node.Cli;

/// <summary><c>tenzro-node run</c>: loads settings (command line &gt; environment &gt; .env &gt; defaults) and runs the node.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var set = new Option<string[]>("--set", "-s")
        {
            Description = "Override a setting, KEY=VALUE (repeatable); takes precedence over the environment and .env.",
            AllowMultipleArgumentsPerToken = false,
        };
        var port = new Option<string?>("--port") { Description = "Same as --set PORT=N." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Same as --set DATA_DIR=PATH." };
        var envFile = new Option<string?>("--env-file") { Description = "The .env file to read (default: .env in the working directory)." };

        var command = new Command("run", "Run the node (the default when no subcommand is given).") { set, port, dataDir, envFile };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (ParseSettings(parse.GetValue(set)) is not { } parsed)
            {
                return CliApp.BadArguments;
            }

            var overrides = parsed.Select(p => new KeyValuePair<string, string?>(p.Key, p.Value)).ToList();

            if (parse.GetValue(port) is { } p)
            {
                overrides.Add(new("PORT", p));
            }

            if (parse.GetValue(dataDir) is { } d)
            {
                overrides.Add(new("DATA_DIR", d));
            }

            var envPath = parse.GetValue(envFile) ?? Path.Combine(Directory.GetCurrentDirectory(), ".env");
            return await RunNodeAsync(overrides, envPath, cancellationToken);
        });
        return command;
    }

    /// <summary>Parses <c>--set KEY=VALUE</c> pairs; null after printing which one is not a known key.</summary>
    public static List<KeyValuePair<string, string>>? ParseSettings(IEnumerable<string>? pairs)
    {
        var settings = new List<KeyValuePair<string, string>>();
        foreach (var pair in pairs ?? [])
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || !SettingCatalog.Contains(pair[..equals].Trim()))
            {
                Console.Error.WriteLine($"--set '{pair}' is not KEY=VALUE with a known key; the keys are listed in .env.example.");
                return null;
            }

            settings.Add(new(pair[..equals].Trim(), pair[(equals + 1)..]));
        }

        return settings;
    }

    /// <summary>Runs the node until SIGTERM/Ctrl-C. Returns the process exit code.</summary>
    public static async Task<int> RunNodeAsync(IEnumerable<KeyValuePair<string, string?>> overrides, string envFile, CancellationToken cancellationToken)
    {
        NodeSettings settings;
        try
        {
            var configuration = NodeSettings.BuildConfiguration(overrides, NodeSettings.ProcessEnvironment(), envFile);
            settings = NodeSettings.Load(configuration);
        }
        catch (ConfigurationException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return ConfigurationException.ExitCode;
        }

        GcChoice.RestartInPlaceIfNeeded(settings.Hardware);
        Security.FilePermissions.RestrictNewFiles();
        DataDirectoryLock dataLock;
        try
        {
            dataLock = DataDirectoryLock.Acquire(settings.Storage.DataDirectory);
            if (Security.FilePermissions.RestrictDataDirectory(settings.Storage.DataDirectory) is { } warning)
            {
                await Console.Error.WriteLineAsync(warning);
            }
        }
        catch (StoreException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return CliApp.CheckFailed;
        }

        using (dataLock)
        {
            var databasePath = Path.Combine(settings.Storage.DataDirectory, "node.db");
            var running = RunningMarker.Begin(settings.Storage.DataDirectory);
            WebApplication app;
            try
            {
                if (running.PreviousRunUnclean)
                {
                    DatabaseIntegrity.QuickCheck(databasePath);
                }

                app = NodeApp.Create(settings);
                if (running.PreviousRunUnclean)
                {
                    Networking.Regional.RegionalLink.RequeueAfterUncleanStop(
                        app.Services.GetRequiredService<Core.Regional.RegionalOutbox>(),
                        settings.Network,
                        app.Services.GetRequiredService<ILogger<Networking.Regional.RegionalLink>>());
                }
            }
            catch (Exception e) when (DatabaseIntegrity.IsDamage(e))
            {
                await Console.Error.WriteLineAsync(DatabaseIntegrity.Explain(databasePath, e).Message);
                return DatabaseDamagedException.ExitCode;
            }
            catch (IdentityException e)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return ConfigurationException.ExitCode;
            }
            catch (StoreException e)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return CliApp.CheckFailed;
            }
            catch (StartupRequirementException e)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return ConfigurationException.ExitCode;
            }

            var database = app.Services.GetRequiredService<NodeDatabase>();
            await using (app)
            {
                try
                {
                    await app.RunAsync();
                }
                catch (Exception e) when (DatabaseIntegrity.IsDamage(e))
                {
                    await Console.Error.WriteLineAsync(DatabaseIntegrity.Explain(databasePath, e).Message);
                    return DatabaseDamagedException.ExitCode;
                }
                catch (IOException e) when (e.InnerException is System.Net.Sockets.SocketException || e.Message.Contains("address", StringComparison.OrdinalIgnoreCase))
                {
                    await Console.Error.WriteLineAsync($"Cannot listen on {settings.Http.Host}:{settings.Http.Port}: {e.Message}. Set PORT to a free port.");
                    return CliApp.CheckFailed;
                }
            }

            database.Checkpoint();
            running.End();
        }

        return CliApp.Ok;
    }
}

/// <summary>A start-up requirement (hardware minimums, enforced tier) is not met; exit 78 with this message.</summary>
internal sealed class StartupRequirementException(string message) : Exception(message);
