using System.CommandLine;
using System.IO.Compression;
using System.Security.Cryptography;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Storage;

namespace Tenzro.Node.Cli;

/// <summary>
/// <c>backup-data</c>, <c>restore-data</c> and <c>restore-config</c>: the node's data and configuration out to
/// an archive and back (docs/OPERATIONS.md, "Backups").
/// </summary>
internal static class DataCommands
{
    public static Command BackupData()
    {
        var output = new Option<string?>("--output", "-o") { Description = "Directory to write the archive to (default: the working directory)." };
        var command = new Command(
            "backup-data",
            "Write the node's database (a consistent copy, safe while the node runs), identity key and blobs to a zip archive (mode 0600).")
        {
            output,
        };
        command.SetAction(async (parse, _) =>
        {
            if (LoadSettings(null) is not { } settings)
            {
                return ConfigurationException.ExitCode;
            }

            var directory = Path.GetFullPath(parse.GetValue(output) ?? Directory.GetCurrentDirectory());
            Directory.CreateDirectory(directory);
            var archive = Path.Combine(directory, $"tenzro-data-{DateTime.UtcNow:yyyyMMdd-HHmmss}.zip");
            try
            {
                IReadOnlyList<string> included = [];
                await Terminal.ShowProgressAsync(
                    $"writing {archive}",
                    report => Task.Run(() => included = DataBackup.Create(settings.Storage.DataDirectory, archive, report)));
                Console.WriteLine($"wrote {archive} ({string.Join(", ", included)}); it holds the node's private key: keep it safe");
                return CliApp.Ok;
            }
            catch (StoreException e)
            {
                File.Delete(archive);
                Console.Error.WriteLine(e.Message);
                return CliApp.CheckFailed;
            }
        });
        return command;
    }

    public static Command RestoreData()
    {
        var archive = new Argument<FileInfo>("ARCHIVE") { Description = "An archive written by 'tenzro-node backup-data'." };
        var force = new Option<bool>("--force") { Description = "Replace the database and identity already in DATA_DIR (they are moved to a replaced-<time> folder)." };
        var command = new Command("restore-data", "Restore the node's database, identity key and blobs from a backup-data archive into DATA_DIR; the node must be stopped.") { archive, force };
        command.SetAction(async (parse, _) =>
        {
            var file = parse.GetValue(archive)!;
            if (!file.Exists)
            {
                Console.Error.WriteLine($"{file.FullName} does not exist.");
                return CliApp.BadArguments;
            }

            if (LoadSettings(null) is not { } settings)
            {
                return ConfigurationException.ExitCode;
            }

            try
            {
                using var stopped = DataDirectoryLock.Acquire(settings.Storage.DataDirectory);
                (IReadOnlyList<string> Restored, string? ReplacedInto) outcome = ([], null);
                await Terminal.ShowProgressAsync(
                    $"reading {file.FullName}",
                    report => Task.Run(() => outcome = DataBackup.Restore(file.FullName, settings.Storage.DataDirectory, parse.GetValue(force), report)));
                var (restored, replacedInto) = outcome;
                Console.WriteLine($"restored {string.Join(", ", restored)} into {settings.Storage.DataDirectory}{Identity(settings.Storage.DataDirectory)}");
                if (replacedInto is not null)
                {
                    Console.WriteLine($"what was there before is in {replacedInto}");
                }

                return CliApp.Ok;
            }
            catch (Exception e) when (e is StoreException or DataRestoreException)
            {
                Console.Error.WriteLine(e.Message);
                return CliApp.CheckFailed;
            }
        });
        return command;
    }

    public static Command RestoreConfig()
    {
        var archive = new Argument<FileInfo>("ARCHIVE") { Description = "An archive written by 'tenzro-node backup-config'." };
        var force = new Option<bool>("--force") { Description = "Replace a different .env or identity key (the old ones are kept beside, as .replaced-<time>)." };
        var command = new Command(
            "restore-config",
            "Restore the .env file (into the working directory) and the identity key (into DATA_DIR) from a backup-config archive; the node must be stopped.")
        {
            archive, force,
        };
        command.SetAction(parse =>
        {
            var file = parse.GetValue(archive)!;
            if (!file.Exists)
            {
                Console.Error.WriteLine($"{file.FullName} does not exist.");
                return CliApp.BadArguments;
            }

            byte[]? env;
            byte[]? key;
            try
            {
                using var zip = ZipFile.OpenRead(file.FullName);
                if (zip.GetEntry("effective.env") is null)
                {
                    Console.Error.WriteLine($"{file.FullName} is not an archive written by 'tenzro-node backup-config'.");
                    return CliApp.CheckFailed;
                }

                env = DataBackup.ReadEntry(zip, ".env");
                key = DataBackup.ReadEntry(zip, "node.key");
            }
            catch (InvalidDataException)
            {
                Console.Error.WriteLine($"{file.FullName} is not a zip archive written by 'tenzro-node backup-config'.");
                return CliApp.CheckFailed;
            }

            var envPath = Path.Combine(Directory.GetCurrentDirectory(), ".env");
            var envDiffers = env is not null && File.Exists(envPath) && !CryptographicOperations.FixedTimeEquals(File.ReadAllBytes(envPath), env);
            if (envDiffers && !parse.GetValue(force))
            {
                Console.Error.WriteLine($"{envPath} differs from the archived .env. Restoring would replace it: pass --force to restore anyway (the current one is kept as .env.replaced-<time>).");
                return CliApp.CheckFailed;
            }

            // DATA_DIR as the restored .env will set it, so the key goes where the node will look for it.
            var archivedEnv = env is null ? null : Path.GetTempFileName();
            try
            {
                if (archivedEnv is not null)
                {
                    File.WriteAllBytes(archivedEnv, env!);
                }

                if (LoadSettings(archivedEnv ?? envPath) is not { } settings)
                {
                    return ConfigurationException.ExitCode;
                }

                using var stopped = DataDirectoryLock.Acquire(settings.Storage.DataDirectory);
                var restored = new List<string>();
                string? replacedKey = null;
                if (key is not null)
                {
                    replacedKey = DataBackup.RestoreIdentityKey(key, settings.Storage.DataDirectory, parse.GetValue(force));
                    restored.Add($"node.key into {settings.Storage.DataDirectory}{Identity(settings.Storage.DataDirectory)}");
                }

                if (env is not null)
                {
                    if (envDiffers)
                    {
                        File.Move(envPath, $"{envPath}.replaced-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
                    }

                    File.WriteAllBytes(envPath, env);
                    restored.Insert(0, $".env into {Directory.GetCurrentDirectory()}");
                }

                Console.WriteLine(restored.Count == 0 ? "the archive holds neither .env nor node.key: nothing to restore" : $"restored {string.Join(" and ", restored)}");
                if (replacedKey is not null)
                {
                    Console.WriteLine($"the previous identity key is kept as {replacedKey}");
                }

                Console.WriteLine("effective.env in the archive lists every setting in force when it was made; it is not applied: compare it with yours.");
                return CliApp.Ok;
            }
            catch (Exception e) when (e is StoreException or DataRestoreException)
            {
                Console.Error.WriteLine(e.Message);
                return CliApp.CheckFailed;
            }
            finally
            {
                if (archivedEnv is not null)
                {
                    File.Delete(archivedEnv);
                }
            }
        });
        return command;
    }

    /// <summary>" (identity 1a2b...)" for the key in <paramref name="dataDirectory"/>, or nothing when there is none.</summary>
    private static string Identity(string dataDirectory)
    {
        if (!File.Exists(Path.Combine(dataDirectory, "node.key")))
        {
            return string.Empty;
        }

        using var identity = NodeIdentity.LoadOrCreate(dataDirectory, null);
        return $" (identity {identity.NodeId[..16]})";
    }

    /// <summary>The settings as the node would read them here (environment, then <paramref name="envFile"/> or ./.env); null after printing why not.</summary>
    private static NodeSettings? LoadSettings(string? envFile)
    {
        try
        {
            return NodeSettings.Load(NodeSettings.BuildConfiguration([], NodeSettings.ProcessEnvironment(), envFile ?? Path.Combine(Directory.GetCurrentDirectory(), ".env")));
        }
        catch (ConfigurationException e)
        {
            Console.Error.WriteLine(e.Message);
            return null;
        }
    }
}
