using System.Diagnostics;
using System.Net.Sockets;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Networking.Peers;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Cli;

internal static partial class NetworkCommands
{
    /// <summary>
    /// Checks one <c>tenzro://</c> entry the way the node dials it, through the same transport: TCP, TLS 1.3 with a
    /// bound certificate, the proven key hashing to the entry's id, and the hello exchange. A throwaway identity
    /// dials, so the running node's own links are not disturbed.
    /// </summary>
    private static async Task<bool> CheckPeerAsync(PeerAddress peer, NodeSettings settings, TimeSpan stepTimeout, CancellationToken cancellationToken)
    {
        Console.WriteLine($"peer: {peer}");
        using var identity = NodeIdentity.CreateEphemeral();
        var transport = new PeerTransport(identity, TimeProvider.System);
        Socket? socket = null;
        System.Net.Security.SslStream? tls = null;
        string? problem = null;
        try
        {
            var ok = await StepAsync("tcp", async ct =>
                {
                    socket = await PeerTransport.ConnectTcpAsync(peer, ct);
                    return $"connected to {socket.RemoteEndPoint}";
                }, stepTimeout, cancellationToken)
                && await StepAsync("tls", async ct =>
                {
                    try
                    {
                        (tls, _) = await transport.AuthenticateAsClientAsync(socket!, peer.NodeId, ct);
                        return $"{tls.SslProtocol}, certificate bound to the node's Ed25519 key";
                    }
                    catch (PeerLinkException e) when (e.Reason == P2pRejection.WrongId)
                    {
                        problem = e.Message;
                        return "TLS 1.3 handshake made; the certificate proves a node key";
                    }
                }, stepTimeout, cancellationToken)
                && await StepAsync("identity", _ => problem is null
                    ? Task.FromResult($"the proven key hashes to {NodeRecord.Short(peer.NodeId)}")
                    : throw new PeerLinkException(problem + "; check the id in the tenzro:// entry against the peer's /status nodeId"), stepTimeout, cancellationToken)
                && await StepAsync("hello", ct => HelloAsync(peer, identity, transport, settings, ct), stepTimeout, cancellationToken);
            return ok;
        }
        finally
        {
            if (tls is not null)
            {
                await tls.DisposeAsync();
            }

            socket?.Dispose();
        }
    }

    private static async Task<string> HelloAsync(PeerAddress peer, NodeIdentity identity, PeerTransport transport, NodeSettings settings, CancellationToken cancellationToken)
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new PeerMetrics(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), []);
        var watch = Stopwatch.StartNew();
        await using var link = new PeerLink(await transport.DialAsync(peer, cancellationToken), new PeerLinkTimings(), TimeProvider.System, metrics);
        var record = NodeRecord.Create(identity, new NodeRecordContent
        {
            Version = Api.StatusApi.Version,
            Tier = settings.Node.NodeTier,
            QualifiedTier = settings.Node.NodeTier,
            Region = settings.Node.Region,
            Arch = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(),
            Free = ResourceAmounts.None,
        }, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddMinutes(5));
        var guard = new ReplayGuard(TimeProvider.System);
        var theirs = await link.HandshakeAsync(PeerLink.Hello(record, guard, identity), guard, cancellationToken);
        await link.CloseAsync("diagnostics done");
        return $"hello in {watch.Elapsed.TotalMilliseconds:F1} ms (round trip {link.RttMs} ms): {theirs.Content.Tier} node in {theirs.Content.Region}, version {theirs.Content.Version}, protocol {theirs.Content.Protocol}";
    }
}
