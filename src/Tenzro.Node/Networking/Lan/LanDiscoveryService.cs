using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Lan;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Networking.Peers;

namespace Tenzro.Node.Networking.Lan;

/// <summary>
/// LAN discovery over mDNS/DNS-SD (CONTRACTS "Ports"): the socket layer around <see cref="LanDiscoveryProtocol"/>.
/// Joins 224.0.0.251 and ff02::fb on every usable interface, announces on each only that interface's addresses,
/// answers queries, re-announces every <see cref="LanDiscoveryProtocol.AnnounceInterval"/> and when the record
/// changes, rescans the interfaces every <see cref="RescanInterval"/>, and says goodbye on stop. Peers found go into
/// the <see cref="PeerTable"/> with <c>foundBy: lan</c> and are dialled by the peer links, which prove their identity.
/// </summary>
/// <remarks>
/// Thread-safe: <see cref="Status"/> may be called from any thread. Off unless LAN_DISCOVERY_ENABLED says on (auto:
/// only a node that takes part in a network); then it sends nothing at all. Received packets pass through a bounded
/// channel to one handler; when it is full the newest packet is dropped and counted (<c>flood</c>): discovery
/// recovers from a lost packet at the next announcement.
/// </remarks>
internal sealed partial class LanDiscoveryService : BackgroundService, ILanDiscovery
{
    public static readonly TimeSpan RescanInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);

    /// <summary>How long the higher id of two nodes that found each other waits before it dials too.</summary>
    private static readonly TimeSpan SecondDialDelay = TimeSpan.FromSeconds(1);
    private readonly NetworkOptions _network;
    private readonly NodeOptions _node;
    private readonly PeerLinkService _links;
    private readonly PeerTable _table;
    private readonly PeerMetrics _peerMetrics;
    private readonly LanMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ILogger _security;
    private readonly LanDiscoveryProtocol _protocol;
    private readonly Lock _lock = new();
    private readonly Dictionary<int, InterfaceState> _interfaces = [];
    private readonly Dictionary<string, DateTimeOffset> _lastSecurityLog = new(StringComparer.Ordinal);
    private readonly Channel<Datagram> _inbox = Channel.CreateBounded<Datagram>(new BoundedChannelOptions(512) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly List<LanSocket> _sockets = [];
    private string? _failure;
    private bool _announcedOnce;

    public LanDiscoveryService(
        NetworkOptions network,
        NodeOptions node,
        NodeIdentity identity,
        PeerLinkService links,
        PeerTable table,
        PeerMetrics peerMetrics,
        LanMetrics metrics,
        TimeProvider time,
        ILoggerFactory loggers)
    {
        _network = network;
        _node = node;
        _links = links;
        _table = table;
        _peerMetrics = peerMetrics;
        _metrics = metrics;
        _time = time;
        _logger = loggers.CreateLogger<LanDiscoveryService>();
        _security = loggers.CreateLogger(Hosting.NodeLogging.SecurityCategory);
        _protocol = new LanDiscoveryProtocol(identity, time);
        metrics.Meter.CreateObservableGauge("tenzro.lan.peers", () => _protocol.Peers.Count, "{peer}", "Peers seen by LAN discovery and not yet gone.");
    }

    public LanStatus Status()
    {
        if (!_network.LanDiscoveryEnabled)
        {
            return new LanStatus(false, LanStatus.Off, [], 0);
        }

        lock (_lock)
        {
            var interfaces = _interfaces.Values
                .OrderBy(i => i.Nic.Name, StringComparer.Ordinal)
                .Select(i => new LanInterfaceStatus(i.Nic.Name, [.. i.Nic.Addresses.Select(a => a.ToString())], i.JoinedAny, i.Error))
                .ToList();
            return new LanStatus(true, _failure is null ? LanStatus.Running : LanStatus.Failed, interfaces, _protocol.Peers.Count);
        }
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (_network.LanDiscoveryEnabled)
        {
            var errors = new List<string>();
            foreach (var family in new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 })
            {
                try
                {
                    _sockets.Add(LanSocket.Open(family));
                }
                catch (SocketException e)
                {
                    errors.Add($"{(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")}: {e.Message}");
                }
            }

            if (_sockets.Count == 0)
            {
                _failure = $"cannot bind UDP port {LanSocket.MdnsPort} ({string.Join("; ", errors)}); let the node bind it, or set LAN_DISCOVERY_ENABLED=false";
                LogSocketFailed(_logger, _failure);
            }
            else if (errors.Count > 0)
            {
                LogSocketFailed(_logger, string.Join("; ", errors));
            }
        }

        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_sockets.Count == 0)
        {
            return;
        }

        LogStarted(_logger, LanWire.ServiceName, _protocol.SelfLabel, LanDiscoveryProtocol.RecordTtl.TotalSeconds, LanDiscoveryProtocol.AnnounceInterval.TotalSeconds);
        var loops = _sockets.Select(s => ReceiveLoopAsync(s, stoppingToken)).ToList();
        loops.Add(HandleLoopAsync(stoppingToken));
        loops.Add(TimerLoopAsync(stoppingToken));
        await Task.WhenAll(loops);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_sockets.Count > 0 && _links.Port > 0)
        {
            // The goodbye: every record with TTL 0, so that peers drop this node at once instead of after the TTL.
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(1));
            await AnnounceAllAsync(TimeSpan.Zero, timeout.Token);
        }

        await base.StopAsync(cancellationToken);
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }
    }

    private async Task TimerLoopAsync(CancellationToken stoppingToken)
    {
        Rescan();
        await AnnounceAllAsync(LanDiscoveryProtocol.RecordTtl, stoppingToken);
        await QueryAllAsync(stoppingToken);
        var lastAnnounce = _time.GetUtcNow();
        var lastScan = lastAnnounce;
        using var timer = new PeriodicTimer(Tick, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    var now = _time.GetUtcNow();
                    if (now - lastScan >= RescanInterval)
                    {
                        lastScan = now;
                        foreach (var fresh in Rescan())
                        {
                            await AnnounceAsync(fresh, LanDiscoveryProtocol.RecordTtl, stoppingToken);
                            await QueryAsync(fresh, stoppingToken);
                        }
                    }

                    var (gone, requery) = _protocol.Sweep();
                    foreach (var change in gone)
                    {
                        Apply(change, 0);
                    }

                    _protocol.Txt(_node.NodeTier, _links.Port, out var changed);
                    if (changed || now - lastAnnounce >= LanDiscoveryProtocol.AnnounceInterval)
                    {
                        lastAnnounce = now;
                        await AnnounceAllAsync(LanDiscoveryProtocol.RecordTtl, stoppingToken);
                    }

                    if (requery)
                    {
                        await QueryAllAsync(stoppingToken);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The edge of the loop: one bad round must not end discovery.
                    LogSendFailed(_logger, "timer", e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private async Task ReceiveLoopAsync(LanSocket socket, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var (packet, length, source, index) = await socket.ReceiveAsync(stoppingToken);
                if (!_inbox.Writer.TryWrite(new Datagram(packet, length, source, index)))
                {
                    var name = InterfaceName(index);
                    _metrics.Dropped(name, P2pRejection.Flood);
                    _peerMetrics.Rejected(P2pRejection.Flood);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                LogSendFailed(_logger, "receive", e.Message);
                await Task.Delay(Tick, _time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private async Task HandleLoopAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var datagram in _inbox.Reader.ReadAllAsync(stoppingToken))
            {
                try
                {
                    Handle(datagram, stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The edge of the loop: a packet that breaks the handler is dropped, discovery goes on.
                    _metrics.Dropped(InterfaceName(datagram.Index), P2pRejection.Malformed);
                    LogSendFailed(_logger, "handle", e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private void Handle(Datagram datagram, CancellationToken stoppingToken)
    {
        var name = InterfaceName(datagram.Index);
        var result = _protocol.Receive(datagram.Packet, datagram.Length, datagram.Source, name);
        if (result.IsQuery || result.Instances > 0)
        {
            _metrics.Packet(name, result.IsQuery ? "query" : result.Changes.Any(c => c.Kind == LanChangeKind.Gone) ? "goodbye" : "announcement", "in");
        }

        foreach (var refusal in result.Refusals)
        {
            _metrics.Dropped(name, refusal.Reason);
            _peerMetrics.Rejected(refusal.Reason);
            if (ShouldLog(refusal.Reason))
            {
                LogRejected(_security, datagram.Source.ToString(), name, refusal.Reason, refusal.Detail);
            }
        }

        foreach (var change in result.Changes)
        {
            Apply(change, datagram.Index);
        }

        if ((result.Answer || result.AnswerEnumeration) && _links.Port > 0)
        {
            _ = Task.Run(() => AnswerAsync(datagram.Index, datagram.Source.AddressFamily, result.Answer, result.AnswerEnumeration, stoppingToken), CancellationToken.None);
        }
    }

    /// <summary>Answers a query after 20 to 120 ms (RFC 6762 section 6: shared records, so answers from many nodes do not collide).</summary>
    private async Task AnswerAsync(int index, AddressFamily family, bool records, bool enumeration, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(20, 121)), _time, stoppingToken);
            InterfaceState? state;
            lock (_lock)
            {
                state = _interfaces.GetValueOrDefault(index);
            }

            var socket = _sockets.FirstOrDefault(s => s.Family == family);
            if (state is null || socket is null || !state.JoinedOn(socket))
            {
                return;
            }

            if (enumeration)
            {
                await SendAsync(state, socket, LanWire.ServiceEnumeration(LanDiscoveryProtocol.RecordTtl), "answer", stoppingToken);
            }

            if (records && _protocol.TakeAnswerSlot(state.Nic.Name))
            {
                var txt = _protocol.Txt(_node.NodeTier, _links.Port, out _);
                await SendAsync(state, socket, LanWire.Announcement(txt, state.Nic.Addresses, LanDiscoveryProtocol.RecordTtl), "answer", stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private void Apply(LanPeerChange change, int index)
    {
        var peer = change.Peer;
        if (change.Kind == LanChangeKind.Gone)
        {
            _links.Forget(peer.Id);
            _table.Lost(peer.Id, PeerSource.Lan);
            LogPeerGone(_logger, NodeRecord.Short(peer.Id), change.Why ?? "gone");
            return;
        }

        var address = peer.DialAddress(index);
        var now = _time.GetUtcNow();
        _table.Update(peer.Id, e => e with
        {
            FoundBy = new SortedSet<string>(e.FoundBy.Append(PeerSource.Lan), StringComparer.Ordinal),
            Addresses = [.. e.Addresses.Union([address.Endpoint], StringComparer.Ordinal)],
            Tier = e.Tier ?? peer.Txt.Tier,
            LastSeen = e.Link == PeerLinkState.Open ? e.LastSeen : now,
        });
        // Both nodes hear each other; the lower id dials at once and the other only if no link opened meanwhile,
        // so a new node does not spend two TLS handshakes per peer (the link rule would close one of them anyway).
        var first = string.CompareOrdinal(_protocol.SelfId, peer.Id) < 0;
        _links.Discovered(address, PeerSource.Lan, first ? TimeSpan.Zero : SecondDialDelay);
        if (change.Kind == LanChangeKind.Found)
        {
            LogPeerFound(_logger, NodeRecord.Short(peer.Id), address.Endpoint, peer.Interface);
        }
    }

    private async Task AnnounceAllAsync(TimeSpan ttl, CancellationToken cancellationToken)
    {
        foreach (var state in Joined())
        {
            await AnnounceAsync(state, ttl, cancellationToken);
        }
    }

    private async Task AnnounceAsync(InterfaceState state, TimeSpan ttl, CancellationToken cancellationToken)
    {
        if (_links.Port == 0)
        {
            return;
        }

        var txt = _protocol.Txt(_node.NodeTier, _links.Port, out _);
        var packet = LanWire.Announcement(txt, state.Nic.Addresses, ttl);
        if (!_announcedOnce && ttl > TimeSpan.Zero)
        {
            // Logged before the send, so that its time is the moment the announcement leaves (bench/lan measures from it).
            _announcedOnce = true;
            LogAnnounced(_logger, _protocol.SelfLabel, txt.Port, state.Nic.Name, txt.Seq);
        }

        foreach (var socket in _sockets.Where(state.JoinedOn))
        {
            await SendAsync(state, socket, packet, ttl == TimeSpan.Zero ? "goodbye" : "announcement", cancellationToken);
        }

        _protocol.Announced(state.Nic.Name);
    }

    private async Task QueryAllAsync(CancellationToken cancellationToken)
    {
        foreach (var state in Joined())
        {
            await QueryAsync(state, cancellationToken);
        }
    }

    private async Task QueryAsync(InterfaceState state, CancellationToken cancellationToken)
    {
        var packet = LanWire.Query();
        foreach (var socket in _sockets.Where(state.JoinedOn))
        {
            await SendAsync(state, socket, packet, "query", cancellationToken);
        }
    }

    private async Task SendAsync(InterfaceState state, LanSocket socket, byte[] packet, string kind, CancellationToken cancellationToken)
    {
        try
        {
            await socket.SendAsync(packet, state.Nic.Index, cancellationToken);
            _metrics.Packet(state.Nic.Name, kind, "out");
            lock (_lock)
            {
                state.SendError = null;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            string text = $"sending on {(socket.IsV4 ? "IPv4" : "IPv6")} failed: {e.Message}";
            bool first;
            lock (_lock)
            {
                first = state.SendError != text;
                state.SendError = text;
            }

            if (first)
            {
                LogSendFailed(_logger, state.Nic.Name, text);
            }
        }
    }

    /// <summary>Security log lines for refused packets, at most one a second per reason: a flood of bad packets must not flood the log (the counters count them all).</summary>
    private bool ShouldLog(string reason)
    {
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            if (_lastSecurityLog.TryGetValue(reason, out var last) && now - last < TimeSpan.FromSeconds(1))
            {
                return false;
            }

            _lastSecurityLog[reason] = now;
            return true;
        }
    }

    private sealed record Datagram(byte[] Packet, int Length, IPAddress Source, int Index);
}
