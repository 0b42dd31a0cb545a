using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Tenzro.Node.IntegrationTests.Operations;

/// <summary>
/// The unit's <c>Type=notify</c> (deploy/tenzro-node.service) as systemd sees it, without systemd: the node runs under
/// a parent process named <c>systemd</c> (which is how Microsoft.Extensions.Hosting.Systemd knows it is a service) with
/// <c>NOTIFY_SOCKET</c> pointing at a datagram socket this test reads, as systemd's own is read.
/// </summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "operations")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SystemdNotifyTests
{
    [Fact]
    public async Task UnderSystemd_TheNodeSaysReadyOnceServingAndStoppingOnSigterm()
    {
        var work = NodeProcess.NewDirectory();
        var fakeSystemd = Path.Combine(work, "systemd");
        File.Copy("/bin/bash", fakeSystemd);
        var socketPath = Path.Combine(work, "notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(socketPath));

        // bash -c '"$@"; exit $?' keeps the shell (named systemd) as the node's parent instead of exec'ing it.
        await using var parent = NodeProcess.LaunchUnder([fakeSystemd, "-c", "\"$@\"; exit $?", "systemd"], new Dictionary<string, string> { ["NOTIFY_SOCKET"] = socketPath });
        var ready = await ReceiveAsync(notify, TimeSpan.FromSeconds(60));
        using var health = await parent.Client.GetAsync("/health/ready");
        var node = ChildOf(parent.Pid);
        using (var term = Process.Start("kill", ["-15", node.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await term!.WaitForExitAsync();
        }

        var stopping = await ReceiveAsync(notify, TimeSpan.FromSeconds(30));
        var exited = await parent.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Contains("READY=1", ready, StringComparison.Ordinal);
        Assert.True(health.IsSuccessStatusCode, $"/health/ready answered {(int)health.StatusCode} after READY=1");
        Assert.Contains("STOPPING=1", stopping, StringComparison.Ordinal);
        Assert.True(exited, "the node did not exit within 30 s of SIGTERM");
        Assert.Equal(0, parent.ExitCode);
    }

    private static async Task<string> ReceiveAsync(Socket socket, TimeSpan within)
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(within);
        var received = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        return Encoding.UTF8.GetString(buffer, 0, received);
    }

    /// <summary>The one child of <paramref name="pid"/> (the node under the fake systemd), from /proc.</summary>
    private static int ChildOf(int pid)
    {
        var children = File.ReadAllText($"/proc/{pid}/task/{pid}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return int.Parse(Assert.Single(children), System.Globalization.CultureInfo.InvariantCulture);
    }
}
