using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests.Operations;

/// <summary><c>backup-data</c>, <c>restore-data</c> and <c>restore-config</c> as an operator runs them.</summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "operations")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DataBackupCliTests
{
    [Fact]
    public async Task BackupDataWhileRunning_RestoreElsewhere_TheNodeComesBackWithItsIdentityAndTasks()
    {
        var source = NodeProcess.NewDirectory();
        var backups = Path.Combine(source, "backups");
        string nodeId;
        int backupCode;
        string backupOutput;
        await using (var node = await NodeProcess.StartAsync(dataDirectory: source))
        {
            using var content = new StringContent("""{"taskId":"kept-1","type":"store","data":{"content":"aGVsbG8=","encoding":"base64"}}""", Encoding.UTF8, "application/json");
            (await node.Client.PostAsync("/api/tasks/execute?wait=10s", content)).EnsureSuccessStatusCode();
            nodeId = (await node.Client.GetFromJsonAsync<JsonObject>("/status"))!["nodeId"]!.GetValue<string>();
            (backupCode, backupOutput) = await Cli.RunInAsync(source, DataDir(source), "backup-data", "-o", backups);
        }

        var archive = Directory.GetFiles(backups, "tenzro-data-*.zip").Single();
        var target = NodeProcess.NewDirectory();
        var (restoreCode, restoreOutput) = await Cli.RunInAsync(target, DataDir(target), "restore-data", archive);
        await using (var restored = await NodeProcess.StartAsync(dataDirectory: target))
        {
            var status = await restored.Client.GetFromJsonAsync<JsonObject>("/status");
            var task = await restored.Client.GetAsync("/api/tasks/kept-1");

            Assert.Equal(0, backupCode);
            Assert.Contains("node.db, node.key, 1 blob(s)", backupOutput);
            // Not a terminal: the steps are plain lines, no spinner and no escape codes.
            Assert.Equal(["copying the database", "adding the identity key", "adding blobs"], backupOutput.Split('\n').Take(3).Select(l => l.TrimEnd('\r')));
            Assert.DoesNotContain('\u001b', backupOutput);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(archive));
            Assert.True(restoreCode == 0, restoreOutput);
            Assert.Contains($"identity {nodeId[..16]}", restoreOutput);
            Assert.StartsWith("restoring node.db (1 of 3 files)", restoreOutput, StringComparison.Ordinal);
            Assert.DoesNotContain('\u001b', restoreOutput);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(target, "data", "node.key")));
            Assert.Equal(nodeId, status!["nodeId"]!.GetValue<string>());
            Assert.Equal(HttpStatusCode.OK, task.StatusCode);
        }

        var other = NodeProcess.NewDirectory();
        await using (var running = await NodeProcess.StartAsync(dataDirectory: other))
        {
            var (busyCode, busy) = await Cli.RunInAsync(other, DataDir(other), "restore-data", archive);
            Assert.Equal(1, busyCode);
            Assert.Contains("Another tenzro-node", busy);
        }

        var (refusedCode, refused) = await Cli.RunInAsync(other, DataDir(other), "restore-data", archive);
        var (forcedCode, forced) = await Cli.RunInAsync(other, DataDir(other), "restore-data", archive, "--force");

        Assert.Equal(1, refusedCode);
        Assert.Contains("--force", refused);
        Assert.Equal(0, forcedCode);
        Assert.Contains("replaced-", forced);
    }

    [Fact]
    public async Task BackupConfigThenRestoreConfig_InAnEmptyFolder_BringsBackEnvAndKey()
    {
        var source = NodeProcess.NewDirectory();
        await File.WriteAllTextAsync(Path.Combine(source, ".env"), "REGION=eu-west\n");
        var key = Path.Combine(source, "data", "node.key");
        Directory.CreateDirectory(Path.GetDirectoryName(key)!);
        await File.WriteAllBytesAsync(key, Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var (backupCode, backup) = await Cli.RunInAsync(source, DataDir(source), "backup-config", "-o", source);
        var archive = Directory.GetFiles(source, "tenzro-backup-*.zip").Single();

        var target = NodeProcess.NewDirectory();
        var (code, output) = await Cli.RunInAsync(target, DataDir(target), "restore-config", archive);
        await File.WriteAllTextAsync(Path.Combine(target, ".env"), "REGION=ap-south\n");
        var (refusedCode, refused) = await Cli.RunInAsync(target, DataDir(target), "restore-config", archive);

        Assert.True(backupCode == 0, backup);
        Assert.True(code == 0, output);
        Assert.Contains("restored .env", output);
        Assert.Equal(await File.ReadAllBytesAsync(key), await File.ReadAllBytesAsync(Path.Combine(target, "data", "node.key")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(target, "data", "node.key")));
        Assert.Equal(1, refusedCode);
        Assert.Contains("--force", refused);
    }

    private static Dictionary<string, string> DataDir(string directory) => new()
    {
        ["DATA_DIR"] = Path.Combine(directory, "data"),
        ["PORT"] = NodeProcess.FreePort().ToString(CultureInfo.InvariantCulture),
    };
}
