using System.CommandLine;
using System.Globalization;
using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Cli;

/// <summary>Maintenance subcommands that work on the node's files: <c>clean-logs</c> and <c>backup-config</c>.</summary>
internal static class MaintenanceCommands
{
    public static Command CleanLogs()
    {
        var olderThan = new Option<string>("--older-than") { Description = "Delete rotated log files older than this age: 7d, 12h, 30m (default 7d).", DefaultValueFactory = _ => "7d" };
        var dryRun = new Option<bool>("--dry-run") { Description = "List what would be deleted without deleting it." };
        var command = new Command("clean-logs", "Delete rotated log files of LOG_FILE_PATH older than --older-than and print what was freed.") { olderThan, dryRun };
        command.SetAction(parse =>
        {
            if (!TryParseAge(parse.GetValue(olderThan)!, out var age))
            {
                Console.Error.WriteLine($"--older-than '{parse.GetValue(olderThan)}' is not an age; write e.g. 7d, 12h or 30m.");
                return CliApp.BadArguments;
            }

            NodeSettings settings;
            try
            {
                settings = NodeSettings.Load(NodeSettings.BuildConfiguration([], NodeSettings.ProcessEnvironment(), Path.Combine(Directory.GetCurrentDirectory(), ".env")));
            }
            catch (ConfigurationException e)
            {
                Console.Error.WriteLine(e.Message);
                return ConfigurationException.ExitCode;
            }

            if (settings.Logging.FilePath is not { } logPath)
            {
                Console.WriteLine("LOG_FILE_PATH is not set: the node logs to the console only, so there are no log files to clean.");
                return CliApp.Ok;
            }

            var (deleted, bytes) = Clean(logPath, DateTime.UtcNow - age, parse.GetValue(dryRun));
            Console.WriteLine($"{(parse.GetValue(dryRun) ? "would delete" : "deleted")} {deleted.Count} rotated log file(s), {bytes} bytes freed");
            foreach (var file in deleted)
            {
                Console.WriteLine($"  {file}");
            }

            return CliApp.Ok;
        });
        return command;
    }

    /// <summary>
    /// Deletes files rotated from <paramref name="logPath"/> (Serilog names them <c>name_001.ext</c>, ...) last
    /// written before <paramref name="cutoff"/>. The live file is never touched.
    /// </summary>
    public static (List<string> Deleted, long Bytes) Clean(string logPath, DateTime cutoff, bool dryRun)
    {
        var directory = Path.GetDirectoryName(logPath)!;
        var stem = Path.GetFileNameWithoutExtension(logPath);
        var extension = Path.GetExtension(logPath);
        var deleted = new List<string>();
        long bytes = 0;
        if (!Directory.Exists(directory))
        {
            return (deleted, 0);
        }

        foreach (var file in Directory.EnumerateFiles(directory, $"{stem}_*{extension}"))
        {
            var info = new FileInfo(file);
            if (info.FullName == Path.GetFullPath(logPath) || info.LastWriteTimeUtc >= cutoff)
            {
                continue;
            }

            bytes += info.Length;
            deleted.Add(info.FullName);
            if (!dryRun)
            {
                info.Delete();
            }
        }

        return (deleted, bytes);
    }

    public static Command BackupConfig()
    {
        var output = new Option<string?>("--output", "-o") { Description = "Directory to write the archive to (default: the working directory)." };
        var includeSecrets = new Option<bool>("--include-secrets") { Description = $"Keep the values of {string.Join(", ", SecretKeys)} (written as <redacted> otherwise)." };
        var command = new Command("backup-config", "Write the effective settings, the .env file and the node's identity key to a zip archive (mode 0600); API keys are redacted unless --include-secrets.") { output, includeSecrets };
        command.SetAction(parse =>
        {
            var envFile = Path.Combine(Directory.GetCurrentDirectory(), ".env");
            var configuration = NodeSettings.BuildConfiguration([], NodeSettings.ProcessEnvironment(), envFile);
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

            var directory = Path.GetFullPath(parse.GetValue(output) ?? Directory.GetCurrentDirectory());
            Directory.CreateDirectory(directory);
            var archive = Path.Combine(directory, $"tenzro-backup-{DateTime.UtcNow:yyyyMMdd-HHmmss}.zip");
            var reader = new SettingsReader(configuration);
            var keep = parse.GetValue(includeSecrets);
            string Value(string key, string value) => !keep && SecretKeys.Contains(key) && value.Length > 0 ? Redacted : value;
            var effective = string.Join('\n', SettingCatalog.All.Select(s => $"{s.Key}={Value(s.Key, reader.Raw(s.Key))}")) + "\n";
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            var included = new List<string> { "effective.env" };
            using (var stream = new FileStream(archive, options))
            using (var zip = new System.IO.Compression.ZipArchive(stream, System.IO.Compression.ZipArchiveMode.Create))
            {
                using (var writer = new StreamWriter(zip.CreateEntry("effective.env").Open()))
                {
                    writer.Write(effective);
                }

                if (File.Exists(envFile))
                {
                    using (var writer = new StreamWriter(zip.CreateEntry(".env").Open()))
                    {
                        foreach (var line in File.ReadLines(envFile))
                        {
                            writer.WriteLine(keep ? line : RedactLine(line));
                        }
                    }

                    included.Add(".env");
                }

                var key = Path.Combine(settings.Storage.DataDirectory, "node.key");
                if (File.Exists(key))
                {
                    System.IO.Compression.ZipFileExtensions.CreateEntryFromFile(zip, key, "node.key");
                    included.Add("node.key");
                }
            }

            Console.WriteLine($"wrote {archive} ({string.Join(", ", included)}); it holds the node's private key: keep it safe");
            return CliApp.Ok;
        });
        return command;
    }

    /// <summary>Settings whose values are secrets: written as <see cref="Redacted"/> unless --include-secrets. DATA_DIR/admin.token is never backed up.</summary>
    public static readonly string[] SecretKeys = ["API_KEYS", "API_KEY", NodeClient.KeyVariable, "REGIONAL_NODE_KEY"];

    public const string Redacted = "<redacted>";

    /// <summary>A .env line with the value of a secret key replaced; other lines as they are.</summary>
    public static string RedactLine(string line)
    {
        var trimmed = line.TrimStart();
        var assignment = trimmed.StartsWith("export ", StringComparison.Ordinal) ? trimmed[7..].TrimStart() : trimmed;
        var equals = assignment.IndexOf('=', StringComparison.Ordinal);
        return equals > 0 && SecretKeys.Contains(assignment[..equals].Trim()) ? $"{assignment[..equals].Trim()}={Redacted}" : line;
    }

    public static bool TryParseAge(string text, out TimeSpan age)
    {
        age = default;
        if (text.Length < 2 || !double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0)
        {
            return false;
        }

        switch (text[^1])
        {
            case 'd': age = TimeSpan.FromDays(value); return true;
            case 'h': age = TimeSpan.FromHours(value); return true;
            case 'm': age = TimeSpan.FromMinutes(value); return true;
            case 's': age = TimeSpan.FromSeconds(value); return true;
            default: return false;
        }
    }
}
