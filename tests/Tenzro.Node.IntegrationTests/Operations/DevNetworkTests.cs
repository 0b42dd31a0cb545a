using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Tenzro.Node.IntegrationTests.Operations;

/// <summary><c>tenzro-node dev-network</c>: a regional node and local nodes on loopback, as a newcomer runs it.</summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "operations")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DevNetworkTests
{
    [Fact]
    public async Task DevNetwork_ThreeNodes_JoinTheRegionalNodeRunASubmittedTaskAndStopOnSigterm()
    {
        var work = NodeProcess.NewDirectory();
        // Its own temporary folder, so that 'submit' finds this network's state file and no other.
        var environment = new Dictionary<string, string> { ["TMPDIR"] = work, ["NO_COLOR"] = "1" };
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(NodeProcess.DllPath());
        foreach (var argument in new[] { "dev-network", "--nodes", "3", "--port", "0" })
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var network = Process.Start(start)!;
        var lines = new List<string>();
        try
        {
            using var startup = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            while (lines.Count(l => l.StartsWith("node ", StringComparison.Ordinal)) < 3)
            {
                var line = await network.StandardOutput.ReadLineAsync(startup.Token)
                    ?? throw new InvalidOperationException($"dev-network ended early: {string.Join('\n', lines)}\n{await network.StandardError.ReadToEndAsync(startup.Token)}");
                lines.Add(line);
            }

            var urls = lines.Where(l => l.StartsWith("node ", StringComparison.Ordinal)).Select(l => new Uri(l.Split(' ')[2])).ToList();
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var states = new List<string?>();
            foreach (var url in urls)
            {
                states.Add(await WaitForRegionalStateAsync(http, url, "joined", TimeSpan.FromSeconds(30)));
            }

            // dev-network gives each node tenzro:// entries of the nodes started before it: all three link up.
            var openLinks = new List<int>();
            foreach (var url in urls)
            {
                openLinks.Add(await WaitForOpenLinksAsync(http, url, 2, TimeSpan.FromSeconds(30)));
            }

            var taskFile = Path.Combine(work, "sum.json");
            await File.WriteAllTextAsync(taskFile, """{"type":"process","data":{"input":[1,2,3],"config":{"op":"sum"}}}""");
            var (submitCode, submitted) = await Cli.RunInAsync(work, environment, "dev-network", "submit", taskFile);

            await SignalAsync(network.Id, 15);
            using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await network.WaitForExitAsync(stopping.Token);
            var stillAnswering = 0;
            foreach (var url in urls)
            {
                try
                {
                    await http.GetAsync(new Uri(url, "/health"));
                    stillAnswering++;
                }
                catch (HttpRequestException)
                {
                }
            }

            Assert.Matches(@"^regional: ws://127\.0\.0\.1:\d+/ws$", lines[0]);
            Assert.Equal(["node 1", "node 2", "node 3"], lines.Skip(1).Take(3).Select(l => l[..6]));
            // Not a terminal: plain lines, no spinner and no escape codes.
            Assert.DoesNotContain(lines, l => l.Contains('\u001b'));
            Assert.All(states, state => Assert.Equal("joined", state));
            Assert.All(openLinks, open => Assert.Equal(2, open));
            Assert.True(submitCode == 0, submitted);
            Assert.Contains("assigned to 1 node(s)", submitted);
            Assert.Contains("\"output\":6", submitted);
            Assert.Equal(0, network.ExitCode);
            Assert.Equal(0, stillAnswering);
        }
        finally
        {
            if (!network.HasExited)
            {
                network.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    public async Task DevNetwork_KilledOutright_ItsNodeStopsAnswering()
    {
        var work = NodeProcess.NewDirectory();
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { NodeProcess.DllPath(), "dev-network", "--nodes", "1", "--port", "0" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["TMPDIR"] = work;
        start.Environment["NO_COLOR"] = "1";
        using var network = Process.Start(start)!;
        Uri? url = null;
        try
        {
            using var startup = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            while (url is null)
            {
                var line = await network.StandardOutput.ReadLineAsync(startup.Token)
                    ?? throw new InvalidOperationException($"dev-network ended early: {await network.StandardError.ReadToEndAsync(startup.Token)}");
                if (line.StartsWith("node 1:", StringComparison.Ordinal))
                {
                    url = new Uri(line.Split(' ')[2]);
                }
            }

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var answeredBefore = (await http.GetAsync(new Uri(url, "/health"), startup.Token)).IsSuccessStatusCode;

            // SIGKILL: dev-network gets no chance to stop its node; the node notices its parent is gone.
            await SignalAsync(network.Id, 9);
            await network.WaitForExitAsync(startup.Token);
            var answering = true;
            using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (answering && !stopping.IsCancellationRequested)
            {
                try
                {
                    await http.GetAsync(new Uri(url, "/health"), stopping.Token);
                    await Task.Delay(200, stopping.Token);
                }
                catch (HttpRequestException)
                {
                    answering = false;
                }
                catch (OperationCanceledException)
                {
                }
            }

            Assert.True(answeredBefore);
            Assert.False(answering, $"node 1 at {url} still answers /health 30 s after dev-network was killed");
        }
        finally
        {
            if (!network.HasExited)
            {
                network.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    public async Task DevRegional_Alone_PrintsItsUrlAnswersHealthAndStopsOnSigterm()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { NodeProcess.DllPath(), "dev-regional", "--port", "0" })
        {
            start.ArgumentList.Add(argument);
        }

        using var regional = Process.Start(start)!;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var line = await regional.StandardOutput.ReadLineAsync(timeout.Token) ?? string.Empty;
            var port = Regex.Match(line, @"^regional: ws://127\.0\.0\.1:(\d+)/ws$").Groups[1].Value;
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var health = await http.GetAsync($"http://127.0.0.1:{port}/health", timeout.Token);
            await SignalAsync(regional.Id, 15);
            await regional.WaitForExitAsync(timeout.Token);

            Assert.NotEmpty(port);
            Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
            Assert.Equal(0, regional.ExitCode);
        }
        finally
        {
            if (!regional.HasExited)
            {
                regional.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    public async Task DevNetworkSubmit_NoNetworkRunning_SaysHowToStartOne()
    {
        var work = NodeProcess.NewDirectory();
        var taskFile = Path.Combine(work, "task.json");
        await File.WriteAllTextAsync(taskFile, """{"type":"store","data":{"input":"x"}}""");

        var (code, output) = await Cli.RunInAsync(work, new Dictionary<string, string> { ["TMPDIR"] = work }, "dev-network", "submit", taskFile);

        Assert.Equal(2, code);
        Assert.Contains("tenzro-node dev-network", output);
    }

    /// <summary>Polls <c>GET /api/peers</c> until the node lists <paramref name="wanted"/> open links or the time is up; the last count.</summary>
    private static async Task<int> WaitForOpenLinksAsync(HttpClient http, Uri node, int wanted, TimeSpan within)
    {
        var open = 0;
        var until = DateTime.UtcNow + within;
        while (DateTime.UtcNow < until)
        {
            try
            {
                var peers = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync(new Uri(node, "/api/peers")))!["peers"]!.AsArray();
                open = peers.Count(p => p?["link"]?.GetValue<string>() == "open");
                if (open >= wanted)
                {
                    return open;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(200);
        }

        return open;
    }

    private static async Task<string?> WaitForRegionalStateAsync(HttpClient http, Uri url, string expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        string? state = null;
        while (DateTime.UtcNow < deadline)
        {
            var status = await http.GetFromJsonAsync<JsonObject>(new Uri(url, "/status"));
            state = status?["regional"]?["state"]?.GetValue<string>();
            if (state == expected)
            {
                break;
            }

            await Task.Delay(200);
        }

        return state;
    }

    private static async Task SignalAsync(int pid, int signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill!.WaitForExitAsync();
    }
}
