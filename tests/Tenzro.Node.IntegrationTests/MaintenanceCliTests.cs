using System.IO.Compression;

namespace Tenzro.Node.IntegrationTests;

/// <summary>The seed's maintenance scripts, as subcommands, against a running node or its files.</summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class MaintenanceCliTests
{
    [Fact]
    public async Task ResourceCheckAndClearResources_AgainstRunningNode_ReportAndReleaseNothing()
    {
        await using var node = await NodeProcess.StartAsync();

        var (checkCode, check) = await Cli.RunAsync("resource-check", "--url", node.BaseAddress.ToString());
        var (jsonCode, json) = await Cli.RunAsync("resource-check", "--json", "--url", node.BaseAddress.ToString());
        var (clearCode, clear) = await Cli.RunOnAsync(node, "clear-resources");

        Assert.Equal(0, checkCode);
        Assert.Contains("cpu (cores)", check);
        Assert.Contains("pressure: none", check);
        Assert.Equal(0, jsonCode);
        Assert.Contains("\"limits\"", json);
        Assert.Equal(0, clearCode);
        Assert.Contains("nothing to release", clear);
    }

    [Fact]
    public async Task ResourceCheck_UnderPressure_ExitsOne()
    {
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string> { ["CRITICAL_MEMORY_PERCENT"] = "1", ["METRICS_UPDATE_INTERVAL"] = "100" });
        await Task.Delay(500);

        var (code, output) = await Cli.RunAsync("resource-check", "--url", node.BaseAddress.ToString());

        Assert.Equal(1, code);
        Assert.Contains("CRITICAL_MEMORY_PERCENT", output);
    }

    [Fact]
    public async Task ClearResources_NodeStopped_RemovesLeftoverScratchDirectories()
    {
        var directory = NodeProcess.NewDirectory();
        var scratch = Path.Combine(directory, "data", "scratch", "t-left-behind");
        Directory.CreateDirectory(scratch);
        await File.WriteAllTextAsync(Path.Combine(scratch, "partial.bin"), "12345");

        var (code, output) = await Cli.RunInAsync(directory, new Dictionary<string, string> { ["DATA_DIR"] = Path.Combine(directory, "data"), ["PORT"] = NodeProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture) }, "clear-resources");

        Assert.Equal(0, code);
        Assert.Contains("removed 1 leftover task scratch directory (5 bytes)", output);
        Assert.False(Directory.Exists(scratch));
    }

    [Fact]
    public async Task CleanLogs_DeletesOnlyRotatedFilesOlderThanTheAge()
    {
        var directory = NodeProcess.NewDirectory();
        var log = Path.Combine(directory, "logs", "node.log");
        Directory.CreateDirectory(Path.GetDirectoryName(log)!);
        await File.WriteAllTextAsync(log, "live");
        var old = Path.Combine(directory, "logs", "node_001.log");
        var recent = Path.Combine(directory, "logs", "node_002.log");
        await File.WriteAllTextAsync(old, "old rotated");
        await File.WriteAllTextAsync(recent, "recent");
        File.SetLastWriteTimeUtc(old, DateTime.UtcNow.AddDays(-10));
        File.SetLastWriteTimeUtc(log, DateTime.UtcNow.AddDays(-30));

        var (code, output) = await Cli.RunInAsync(directory, new Dictionary<string, string> { ["LOG_FILE_PATH"] = log }, "clean-logs", "--older-than", "7d");

        Assert.Equal(0, code);
        Assert.Contains("deleted 1 rotated log file(s), 11 bytes freed", output);
        Assert.False(File.Exists(old));
        Assert.True(File.Exists(recent));
        Assert.True(File.Exists(log));
    }

    [Fact]
    public async Task BackupConfig_WritesSettingsEnvAndKeyReadableOnlyByOwnerWithSecretsRedacted()
    {
        const string key = "tnz_backup1_0a1b2c3d4e5f60718293a4b5c6d7e8f9";
        var directory = NodeProcess.NewDirectory();
        await File.WriteAllTextAsync(Path.Combine(directory, ".env"), $"REGION=eu-west\nAPI_KEY={key}\nexport TENZRO_API_KEY={key}\n");
        await using (var node = await NodeProcess.StartAsync(dataDirectory: directory))
        {
            await node.SignalAsync(15);
            await node.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }

        var data = Path.Combine(directory, "data");
        var (code, output) = await Cli.RunInAsync(directory, new Dictionary<string, string> { ["DATA_DIR"] = data }, "backup-config", "-o", Path.Combine(directory, "backups"));
        var archive = Directory.GetFiles(Path.Combine(directory, "backups"), "*.zip").Single();
        string effective, env;
        using (var zip = ZipFile.OpenRead(archive))
        {
            Assert.Equal(["effective.env", ".env", "node.key"], zip.Entries.Select(e => e.FullName));
            using var reader = new StreamReader(zip.GetEntry("effective.env")!.Open());
            effective = await reader.ReadToEndAsync();
            using var envReader = new StreamReader(zip.GetEntry(".env")!.Open());
            env = await envReader.ReadToEndAsync();
        }

        var (withCode, _) = await Cli.RunInAsync(directory, new Dictionary<string, string> { ["DATA_DIR"] = data }, "backup-config", "--include-secrets", "-o", Path.Combine(directory, "with-secrets"));
        using var withSecrets = ZipFile.OpenRead(Directory.GetFiles(Path.Combine(directory, "with-secrets"), "*.zip").Single());
        using var withReader = new StreamReader(withSecrets.GetEntry("effective.env")!.Open());
        var kept = await withReader.ReadToEndAsync();

        Assert.Equal(0, code);
        Assert.Contains("node.key", output);
        Assert.Contains("REGION=eu-west", effective);
        Assert.DoesNotContain(key, effective + env, StringComparison.Ordinal);
        Assert.Contains("API_KEY=<redacted>", effective);
        Assert.Contains("TENZRO_API_KEY=<redacted>", env);
        Assert.Equal(0, withCode);
        Assert.Contains($"API_KEY={key}", kept);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(archive));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(data));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(data, "node.db")));
    }

    [Fact]
    public async Task ProfileAndInfer_AgainstRunningNode()
    {
        await using var node = await NodeProcess.StartAsync();
        var models = Path.Combine(Path.GetDirectoryName(NodeProcess.DllPath())!, "..", "..", "..", "..", "..", "tests", "models");

        var (profileCode, profile) = await Cli.RunAsync("profile", "--json", "--url", node.BaseAddress.ToString());
        var (inferCode, inferred) = await Cli.RunAsync("infer", Path.Combine(models, "linear.onnx"), Path.Combine(models, "linear-inputs.json"), "--url", node.BaseAddress.ToString());

        Assert.Equal(0, profileCode);
        Assert.Matches($"\"logicalCores\"\\s*:\\s*{Environment.ProcessorCount}", profile);
        Assert.Equal(0, inferCode);
        Assert.Contains("y", inferred);
    }

    [Fact]
    public async Task Bandwidth_TwoNodeProcesses_MeasuresThePeerAndTheProfileTableShowsIt()
    {
        await using var peer = await NodeProcess.StartAsync();
        var configured = new Uri(peer.BaseAddress, "/api/network/bandwidth").ToString();
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string> { ["BANDWIDTH_TEST_URL"] = configured, ["BANDWIDTH_TEST_INTERVAL"] = "0" });

        var (code, output) = await Cli.RunOnAsync(node, "bandwidth");
        var (profileCode, profile) = await Cli.RunAsync("profile", "--url", node.BaseAddress.ToString());
        var (otherCode, other) = await Cli.RunOnAsync(node, "bandwidth", "--target", configured + "?bytes=2097152");
        var (noTargetCode, noTarget) = await Cli.RunOnAsync(peer, "bandwidth");
        var (badCode, bad) = await Cli.RunOnAsync(node, "bandwidth", "--target", "ftp://example.org/");

        Assert.Equal(0, code);
        Assert.Matches(@"download:\s+[0-9.]+ Mbps \(10485760 bytes\)", output);
        Assert.Matches(@"upload:\s+[0-9.]+ Mbps \(10485760 bytes\)", output);
        Assert.Matches(@"(?m)reported:\s+[0-9.]+ Mbps \(measured\)\r?$", output);
        Assert.Equal(0, profileCode);
        Assert.Contains("(measured)", profile);
        Assert.Contains("Mbps down", profile);
        Assert.Equal(0, otherCode);
        Assert.Contains("(2097152 bytes)", other);
        Assert.Contains("this target is not BANDWIDTH_TEST_URL, so its figures are not reported", other);
        Assert.Equal(1, noTargetCode);
        Assert.Contains("BANDWIDTH_TEST_URL is not set", noTarget);
        Assert.Equal(2, badCode);
        Assert.Contains("is not an http:// or https:// URL", bad);
    }
}
