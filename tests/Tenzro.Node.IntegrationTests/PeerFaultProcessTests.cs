using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.IntegrationTests;

/// <summary>
/// Two node processes linked through a <see cref="FaultProxy"/> that black-holes the path (drops everything, a close
/// included) for longer than the dead-link timeout, then restores it: what each side's <c>/api/peers</c> shows.
/// </summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class PeerFaultProcessTests
{
    // Pings every 200 ms, dead after 1.5 s of silence, 2 s to open a link, redials from 200 ms capped at 1 s.
    private static readonly Dictionary<string, string> Timings = new()
    {
        ["PEER_PING_INTERVAL"] = "200",
        ["PEER_DEAD_LINK_TIMEOUT"] = "1500",
        ["PEER_HELLO_TIMEOUT"] = "2000",
        ["RECONNECT_INTERVAL"] = "200",
        ["RECONNECT_MAX_INTERVAL"] = "1000",
    };

    private static readonly TimeSpan BlackHoleFor = TimeSpan.FromSeconds(4);

    // The longest pause between two dials: the capped backoff (1 s) after a dial that hung for the hello timeout (2 s),
    // with room for a loaded machine. A dial that waits for a fixed 10 s handshake timeout exceeds it.
    private static readonly TimeSpan LongestDialGap = TimeSpan.FromSeconds(6);

    [Fact(Timeout = 90_000)]
    public async Task BlackHoledPath_BothSidesShowTheLinkDeadThenOpenAgain_AndTheDiallerKeepsDialling()
    {
        var aPort = NodeProcess.FreePort();
        await using var a = await NodeProcess.StartAsync(With(new() { ["LOCAL_DISCOVERY_PORT"] = aPort.ToString(CultureInfo.InvariantCulture) }));
        var aId = await PeerLinkProcessTests.IdOfAsync(a);
        await using var proxy = FaultProxy.Start(aPort);
        await using var b = await NodeProcess.StartAsync(With(new() { ["BOOTSTRAP_NODES"] = PeerLinkProcessTests.Entry(aId, proxy.Port) }));
        var bId = await PeerLinkProcessTests.IdOfAsync(b);
        await WaitAsync(async () => await LinkAsync(a, bId) == "open" && await LinkAsync(b, aId) == "open", "the two nodes did not link through the proxy", a, b);

        using var watching = new CancellationTokenSource();
        var dials = WatchDialsAsync(proxy, watching.Token);
        var holeStarted = Stopwatch.StartNew();
        proxy.Mode = FaultProxy.Fault.BlackHole;
        await WaitAsync(async () => await LinkAsync(a, bId) != "open" && await LinkAsync(b, aId) != "open", "a side still lists the link open after the dead-link timeout", a, b);
        await Task.Delay(BlackHoleFor - holeStarted.Elapsed is { Ticks: > 0 } rest ? rest : TimeSpan.Zero);
        var aDown = await EntryAsync(a, bId);
        var bDown = await EntryAsync(b, aId);
        var dialsWhileDown = proxy.Accepted;

        proxy.Mode = FaultProxy.Fault.None;
        await WaitAsync(async () => await LinkAsync(a, bId) == "open" && await LinkAsync(b, aId) == "open", "the link did not open again on both sides once the path was back", a, b);
        await watching.CancelAsync();
        var dialTimes = await dials;
        var aUp = await a.Client.GetFromJsonAsync<JsonObject>("/api/network/status");
        var bUp = await b.Client.GetFromJsonAsync<JsonObject>("/api/network/status");

        Assert.NotEqual("open", aDown["link"]?.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(aDown["lastError"]?.GetValue<string>()), $"a lists no lastError: {aDown}");
        Assert.NotEqual("open", bDown["link"]?.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(bDown["lastError"]?.GetValue<string>()), $"b lists no lastError: {bDown}");
        Assert.True(dialsWhileDown >= 2, $"b dialled {dialsWhileDown - 1} times in {BlackHoleFor.TotalSeconds} s of black hole");
        var gaps = dialTimes.Zip(dialTimes.Skip(1), (x, y) => y - x).ToList();
        Assert.True(gaps.Count > 0 && gaps.Max() < LongestDialGap, $"b paused between dials: {string.Join(", ", gaps.Select(g => g.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)))} s");
        Assert.Equal(1, aUp!["links"]!["open"]!.GetValue<int>());
        Assert.Equal(1, bUp!["links"]!["open"]!.GetValue<int>());
    }

    private static Dictionary<string, string> With(Dictionary<string, string> values)
    {
        foreach (var (key, value) in Timings)
        {
            values[key] = value;
        }

        return values;
    }

    /// <summary>The times at which the proxy accepted a connection (each one a dial of b), until cancelled.</summary>
    private static async Task<List<TimeSpan>> WatchDialsAsync(FaultProxy proxy, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var times = new List<TimeSpan> { TimeSpan.Zero };
        var seen = proxy.Accepted;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (proxy.Accepted != seen)
            {
                seen = proxy.Accepted;
                times.Add(clock.Elapsed);
            }

            await Task.Delay(20, CancellationToken.None);
        }

        return times;
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what, NodeProcess a, NodeProcess b)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what}\na: {a.Output}\nb: {b.Output}");
            await Task.Delay(50);
        }
    }

    private static async Task<JsonObject> EntryAsync(NodeProcess node, string peerId) =>
        (await node.Client.GetFromJsonAsync<JsonObject>("/api/peers"))!["peers"]!.AsArray().OfType<JsonObject>()
            .FirstOrDefault(p => p["id"]!.GetValue<string>() == peerId) ?? [];

    private static async Task<string?> LinkAsync(NodeProcess node, string peerId) =>
        (await EntryAsync(node, peerId))["link"]?.GetValue<string>();
}
