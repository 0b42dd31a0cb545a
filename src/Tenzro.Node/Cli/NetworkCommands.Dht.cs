using System.Diagnostics;
using System.Net;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Dht;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Networking.Dht;

namespace Tenzro.Node.Cli;

internal static partial class NetworkCommands
{
    /// <summary>
    /// Checks one <c>udp://</c> entry the way the node joins through it: resolve the name, a signed DHT PING, then a
    /// lookup of a throwaway id through it (the self-lookup of a join). A throwaway identity on its own UDP socket
    /// asks, so the running node's table is not disturbed.
    /// </summary>
    private static async Task<bool> CheckDhtContactAsync(DnsEndPointText entry, TimeSpan stepTimeout, CancellationToken cancellationToken)
    {
        Console.WriteLine($"dht: udp://{entry}");
        using var identity = NodeIdentity.CreateEphemeral();
        IPEndPoint? target = null;
        DhtUdpTransport? transport = null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task? receiving = null;
        try
        {
            DhtNode? node = null;
            var ok = await StepAsync("resolve", async ct =>
                {
                    var address = IPAddress.TryParse(entry.Host, out var literal) ? literal : (await Dns.GetHostAddressesAsync(entry.Host, ct))[0];
                    target = new IPEndPoint(address, entry.Port);
                    return $"{entry.Host} is {address}";
                }, stepTimeout, cancellationToken)
                && await StepAsync("ping", async ct =>
                {
                    var local = IPAddress.IsLoopback(target!.Address) ? (target.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "::1" : "127.0.0.1")
                        : target.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "::" : "0.0.0.0";
                    transport = DhtUdpTransport.Bind(local, 0, identity, TimeProvider.System);
                    node = new DhtNode(DhtId.Parse(identity.NodeId), transport, TimeProvider.System);
                    transport.Received = node.Receive;
                    receiving = transport.ReceiveLoopAsync(stop.Token);
                    var watch = Stopwatch.StartNew();
                    var contact = await node.PingAsync(DhtUdpTransport.Format(target)).WaitAsync(ct)
                        ?? throw new DiagnosticException("no signed answer to a DHT PING (is DHT_ENABLED true there, and the UDP port open?)");
                    return $"answered by node {contact.Id.ToString()[..16]} in {watch.Elapsed.TotalMilliseconds:F1} ms";
                }, stepTimeout, cancellationToken)
                && await StepAsync("lookup", async ct =>
                {
                    var result = await node!.LookupAsync(node.Self).WaitAsync(ct);
                    return result.Succeeded
                        ? $"{result.Closest.Count} nodes answered a self-lookup in {result.Duration.TotalMilliseconds:F1} ms ({result.Hops} hops)"
                        : throw new DiagnosticException("no node answered a self-lookup through this entry");
                }, stepTimeout, cancellationToken);
            return ok;
        }
        finally
        {
            await stop.CancelAsync();
            transport?.Dispose();
            if (receiving is not null)
            {
                await receiving.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }
}
