using System.Net;
using System.Net.Http.Json;
using Tenzro.Node.Tests.Storage;

namespace Tenzro.Node.IntegrationTests;

/// <summary>
/// A damaged or foreign node.db at start: the real process refuses it with advice and exit 65 (which the
/// systemd unit does not restart), and leaves the file exactly as it was.
/// </summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class DatabaseDamageTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    public static readonly Dictionary<string, string> Loopback = new()
    {
        ["LAN_DISCOVERY_ENABLED"] = "false",
        ["DHT_ENABLED"] = "false",
        ["P2P_HOST"] = "127.0.0.1",
    };

    [Fact]
    public async Task Start_DamagedPageAfterSigkill_QuickCheckRefusesWithExit65AndLeavesTheFile()
    {
        var directory = NodeProcess.NewDirectory();
        await RunAndStopCleanlyAsync(directory, tasks: 60);
        await using (var node = await NodeProcess.StartAsync(Loopback, directory))
        {
            await node.SignalAsync(9);
            Assert.True(await node.WaitForExitAsync(ExitTimeout));
        }

        var database = Path.Combine(directory, "data", "node.db");
        DatabaseFiles.Damage(database, offset: 12 * 1024, length: 80 * 1024);
        var damaged = await File.ReadAllBytesAsync(database);

        await using var refused = NodeProcess.Launch(Loopback, directory);
        Assert.True(await refused.WaitForExitAsync(ExitTimeout), "the node started on a damaged database:\n" + refused.Output);

        Assert.Equal(65, refused.ExitCode);
        Assert.Contains("quick_check", refused.Output);
        Assert.Contains("restore it from a backup", refused.Output);
        Assert.Contains("move it aside", refused.Output);
        Assert.DoesNotContain("Unhandled exception", refused.Output);
        Assert.Equal(damaged, await File.ReadAllBytesAsync(database));
    }

    [Fact]
    public async Task Start_GarbageHeaderAfterCleanStop_RefusedWithExit65AndLeavesTheFile()
    {
        var directory = NodeProcess.NewDirectory();
        await RunAndStopCleanlyAsync(directory, tasks: 5);

        var database = Path.Combine(directory, "data", "node.db");
        DatabaseFiles.Damage(database, offset: 0, length: 100);
        var damaged = await File.ReadAllBytesAsync(database);

        await using var refused = NodeProcess.Launch(Loopback, directory);
        Assert.True(await refused.WaitForExitAsync(ExitTimeout), "the node started on a garbage header:\n" + refused.Output);

        Assert.Equal(65, refused.ExitCode);
        Assert.Contains("not an SQLite database", refused.Output);
        Assert.Contains("move it aside", refused.Output);
        Assert.DoesNotContain("Unhandled exception", refused.Output);
        Assert.Equal(damaged, await File.ReadAllBytesAsync(database));
    }

    [Fact]
    public void SystemdUnit_DoesNotRestartOnExit65()
    {
        var unit = File.ReadAllLines(Path.Combine(NodeProcess.RepositoryRoot(), "deploy", "tenzro-node.service"));

        var prevent = Assert.Single(unit, line => line.StartsWith("RestartPreventExitStatus=", StringComparison.Ordinal));
        Assert.Contains("65", prevent["RestartPreventExitStatus=".Length..].Split(' '));
    }

    /// <summary>Runs a node on <paramref name="directory"/>, stores <paramref name="tasks"/> results, and stops it with SIGTERM.</summary>
    private static async Task RunAndStopCleanlyAsync(string directory, int tasks)
    {
        await using var node = await NodeProcess.StartAsync(Loopback, directory);
        for (var i = 0; i < tasks; i++)
        {
            var response = await node.Client.PostAsJsonAsync("/api/tasks/execute?wait=5s", new { type = "store", data = new { content = new string('x', 2000) + i } });
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted, $"submit answered {(int)response.StatusCode}");
        }

        await node.SignalAsync(15);
        Assert.True(await node.WaitForExitAsync(ExitTimeout));
        Assert.Equal(0, node.ExitCode);
    }
}
