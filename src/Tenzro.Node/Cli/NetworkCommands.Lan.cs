using System.Diagnostics;
using System.Text.Json;
using Tenzro.Node.Api;
using Tenzro.Node.Core.Lan;

namespace Tenzro.Node.Cli;

internal static partial class NetworkCommands
{
    /// <summary>
    /// Reports LAN discovery as the running node sees it, one line per interface: joined to the mDNS group, or why
    /// not. Asks the node (its <c>/api/network/status</c>) rather than joining a group from the CLI, so the check
    /// shows the node's real state and sends nothing on the network itself. False when discovery is not running or
    /// joined on no interface.
    /// </summary>
    private static async Task<bool> CheckLanAsync(Uri baseUrl, TimeSpan stepTimeout, CancellationToken cancellationToken)
    {
        Console.WriteLine($"lan discovery: the node at {baseUrl}");
        var clock = Stopwatch.StartNew();
        LanStatus? lan;
        try
        {
            using var http = NodeClient.Create(baseUrl, stepTimeout);
            var text = await http.GetStringAsync("/api/network/status", cancellationToken);
            lan = JsonSerializer.Deserialize(text, ApiJson.Default.NetworkStatusBody)?.Lan;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            Report(false, "node", $"cannot reach the node: {e.Message} (is it running? pass --url)", clock.Elapsed);
            return false;
        }

        var state = lan?.State;
        if (lan is null || state != "running")
        {
            Report(false, "lan", state is null ? "the node reports no LAN discovery (an older version?)" : state == "off"
                ? "off on the running node: LAN_DISCOVERY_ENABLED=false, or auto on a standalone node"
                : "failed: UDP port 5353 could not be bound (see the node's log)", clock.Elapsed);
            return false;
        }

        var joined = 0;
        foreach (var nic in lan.Interfaces ?? [])
        {
            var addresses = string.Join(", ", nic.Addresses ?? []);
            joined += nic.Joined ? 1 : 0;
            Report(nic.Joined && nic.Error is null, nic.Name ?? "?", nic.Joined
                ? $"joined 224.0.0.251/ff02::fb, announcing {addresses}{(nic.Error is null ? "" : "; " + nic.Error)}"
                : $"not joined: {nic.Error ?? "no reason given"}", clock.Elapsed);
        }

        Report(joined > 0, "peers", joined > 0
            ? $"{lan.Peers} found on the LAN"
            : "no interface joined: no peer can be found by mDNS (see the errors above)", clock.Elapsed);
        return joined > 0;
    }
}
