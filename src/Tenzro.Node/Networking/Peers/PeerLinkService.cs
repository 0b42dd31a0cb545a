using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Networking.Peers;

/// <summary>
/// Peer links (CONTRACTS "Peer links"): the listener on P2P_HOST:LOCAL_DISCOVERY_PORT, the dial loop of each
/// <c>tenzro://</c> bootstrap entry (capped backoff with jitter and a per-peer circuit breaker, both Polly), the
/// rules on who may link (MAX_PEER_LINKS, four inbound links per remote address except loopback, one link per
/// pair: the one dialled by the lower id is kept), and the peer table's view of every link.
/// </summary>
/// <remarks>
/// Thread-safe: <see cref="Links"/>, <see cref="OpenLinks"/> and <see cref="RedialAsync"/> may be called from any
/// thread. Lifecycle: the listener is bound in <see cref="StartAsync"/> (so the port is known before the API
/// answers); a port that cannot be bound is reported by <see cref="ListenerError"/> and the node keeps running.
/// </remarks>
internal sealed partial class PeerLinkService : BackgroundService, IPeerLinks
{
    private const int MaxInboundPerAddress = 4;
    private static readonly TimeSpan MaxRedialDelay = TimeSpan.FromSeconds(10);

    /// <summary>A link that lasts this long resets the redial backoff; one that ends sooner makes the next redial wait.</summary>
    private static readonly TimeSpan StableLink = TimeSpan.FromSeconds(10);

    private readonly NetworkOptions _network;
    private readonly NodeOptions _node;
    private readonly NodeIdentity _identity;
    private readonly PeerTransport _transport;
    private readonly PeerTable _table;
    private readonly PeerMetrics _metrics;
    private readonly PeerLinkTimings _timings;
    private readonly ReplayGuard _replay;
    private readonly NodeRecordSigner _signer;
    private readonly IResourceLedger _ledger;
    private readonly HardwareProfiler? _profiler;
    private readonly PeerBlocklist _blocklist;
    private readonly Core.Aggregation.GroupLogPort? _raftPort;
    private readonly IReadOnlyList<string> _capabilities;
    private readonly Dictionary<string, IPeerMessageHandler> _handlers;
    private readonly TimeProvider _time;
    private readonly ILogger<PeerLinkService> _logger;
    private readonly ILogger _security;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, PeerLink> _links = new(StringComparer.Ordinal);
    private readonly HashSet<PeerLink> _pending = [];
    private readonly Dictionary<string, CancellationTokenSource> _redial = new(StringComparer.Ordinal);
    private readonly Dictionary<IPAddress, int> _inbound = [];
    private readonly Dictionary<string, (PeerAddress Peer, CancellationTokenSource Stop)> _discovered = new(StringComparer.Ordinal);
    private readonly IHostApplicationLifetime? _lifetime;
    private Socket? _listener;
    private CancellationToken _stopping;

    public PeerLinkService(
        NetworkOptions network,
        NodeOptions node,
        NodeIdentity identity,
        PeerTransport transport,
        PeerTable table,
        PeerMetrics metrics,
        PeerLinkTimings timings,
        IResourceLedger ledger,
        IEnumerable<ITaskRuntime> runtimes,
        IEnumerable<IPeerMessageHandler> handlers,
        TimeProvider time,
        ILoggerFactory loggers,
        HardwareProfiler? profiler = null,
        PeerBlocklist? blocklist = null,
        Core.Aggregation.GroupLogPort? raftPort = null,
        IHostApplicationLifetime? lifetime = null)
    {
        _raftPort = raftPort;
        _lifetime = lifetime;
        _blocklist = blocklist ?? new PeerBlocklist(null);
        _network = network;
        _node = node;
        _identity = identity;
        _transport = transport;
        _table = table;
        _metrics = metrics;
        _timings = timings;
        _ledger = ledger;
        _profiler = profiler;
        _time = time;
        _replay = new ReplayGuard(time);
        _signer = new NodeRecordSigner(identity, time);
        _capabilities = [.. runtimes.SelectMany(r => r.Types).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        _handlers = handlers.ToDictionary(h => h.Type, StringComparer.Ordinal);
        _logger = loggers.CreateLogger<PeerLinkService>();
        _security = loggers.CreateLogger(Hosting.NodeLogging.SecurityCategory);
        table.SelfId = identity.NodeId;
        metrics.Meter.CreateObservableGauge("tenzro.peer.links.open", () => OpenLinks, "{link}", "Open peer links.");
    }

    /// <summary>The bound TCP port; 0 until bound or when binding failed.</summary>
    public int Port { get; private set; }

    /// <summary>Why the listener is not running; null while it is.</summary>
    public string? ListenerError { get; private set; }

    public int MaxLinks => _network.MaxPeerLinks;

    public int OpenLinks
    {
        get
        {
            lock (_lock)
            {
                return _links.Count;
            }
        }
    }

    /// <summary>The open links, for handlers and diagnostics.</summary>
    public IReadOnlyList<PeerLink> Links
    {
        get
        {
            lock (_lock)
            {
                return [.. _links.Values];
            }
        }
    }

    /// <summary>This node's record as it is now (re-signed when it changed meaningfully).</summary>
    public NodeRecord CurrentRecord()
    {
        var ledgerFree = _ledger.Free;
        var free = new ResourceAmounts(Finite(ledgerFree.Cpu), Finite(ledgerFree.MemoryMB), Finite(ledgerFree.StorageMB), (int)Math.Min(ledgerFree.GpuCount, 1024), Finite(ledgerFree.GpuMemoryMB));
        var profile = _profiler?.Current;
        var content = new NodeRecordContent
        {
            Version = Api.StatusApi.Version,
            Tier = _node.NodeTier,
            QualifiedTier = profile?.Tier.Qualified ?? _node.NodeTier,
            Region = _node.Region,
            Arch = RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(),
            Addresses = AdvertisedAddresses(),
            RaftPort = _raftPort?.Port is > 0 and var picked ? picked : _network.RaftPort,
            Capabilities = _capabilities,
            Free = free,
            FreeCpuOpsPerSecond = profile is null ? null : Core.Optimization.BenchmarkCapacity.FreeCpuOpsPerSecond(profile, free),
        };
        for (var addresses = content.Addresses.Count; ; addresses--)
        {
            try
            {
                return _signer.Current(content with { Addresses = [.. content.Addresses.Take(addresses)] });
            }
            catch (ArgumentException) when (addresses > 0)
            {
                // Too many addresses for 800 bytes: announce fewer.
            }
        }
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        _stopping = cancellationToken;
        try
        {
            var address = IPAddress.Parse(_network.P2pHost);
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(address, _network.LocalDiscoveryPort));
                socket.Listen(128);
            }
            catch
            {
                socket.Dispose();
                throw;
            }

            _listener = socket;
            Port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            LogListening(_logger, _network.P2pHost, Port);
        }
        catch (SocketException e)
        {
            ListenerError = $"cannot listen for peer links on {_network.P2pHost}:{_network.LocalDiscoveryPort}/tcp: {e.Message} (set LOCAL_DISCOVERY_PORT to a free port, or 0 to pick one)";
            LogListenerFailed(_logger, ListenerError);
        }

        foreach (var peer in _network.BootstrapPeers.Where(p => p.NodeId != _identity.NodeId))
        {
            _table.Found(peer.NodeId, PeerSource.Bootstrap, [peer.Endpoint]);
        }

        if (_listener is not null)
        {
            // The certificate (an ECDSA key, a signature and a PKCS#12 round trip) is made a moment after the node
            // answers, not on its way to answering; a link needed sooner makes it then.
            if (_lifetime is null)
            {
                _ = Task.Run(_transport.Prepare, CancellationToken.None);
            }
            else
            {
                _lifetime.ApplicationStarted.Register(() => _ = PrepareSoonAsync());
            }
        }

        return base.StartAsync(cancellationToken);
    }

    private async Task PrepareSoonAsync()
    {
        try
        {
            // Real time, not the node's clock: this only warms a cache, and a test's fake clock must not see it as one of its delays.
            await Task.Delay(TimeSpan.FromSeconds(1), _stopping);
            _transport.Prepare();
        }
        catch (OperationCanceledException)
        {
            // Stopping before it was needed.
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        var loops = new List<Task>();
        if (_listener is not null)
        {
            loops.Add(AcceptLoopAsync(_listener, stoppingToken));
        }

        loops.AddRange(_network.BootstrapPeers
            .Where(p => p.NodeId != _identity.NodeId)
            .DistinctBy(p => p.NodeId)
            .Select(p => DialLoopAsync(p, PeerSource.Bootstrap, stoppingToken)));
        await Task.WhenAll(loops);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _listener?.Dispose();
        await base.StopAsync(cancellationToken);
        foreach (var link in Links)
        {
            await link.CloseAsync("the node is stopping", System.Net.WebSockets.WebSocketCloseStatus.EndpointUnavailable);
        }
    }

    public async Task<bool> CloseAsync(string peerId, string reason)
    {
        if (Current(peerId) is not { } link)
        {
            return false;
        }

        await link.CloseAsync(reason, System.Net.WebSockets.WebSocketCloseStatus.PolicyViolation);
        return true;
    }

    /// <summary>Closes every link; the bootstrap entries are dialled again at once (<c>reset-connections --peers</c>).</summary>
    public async Task<int> RedialAsync()
    {
        var links = Links;
        foreach (var link in links)
        {
            await link.CloseAsync("reset requested by the node's operator");
        }

        List<CancellationTokenSource> wakes;
        lock (_lock)
        {
            wakes = [.. _redial.Values];
        }

        // Cancelled outside the lock: a dial loop may resume inline on this thread and take it.
        foreach (var wake in wakes)
        {
            try
            {
                wake.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // That dial loop is between two rounds; it dials at once anyway.
            }
        }

        return links.Count;
    }

    private async Task AcceptLoopAsync(Socket listener, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(stoppingToken);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                LogAcceptFailed(_logger, e.Message);
                continue;
            }

            _ = Task.Run(() => AcceptAsync(socket, stoppingToken), CancellationToken.None);
        }
    }

    private async Task AcceptAsync(Socket socket, CancellationToken stoppingToken)
    {
        var remote = (IPEndPoint)socket.RemoteEndPoint!;
        var refusal = AdmitInbound(remote.Address);
        if (refusal is not null)
        {
            _metrics.Rejected(refusal.Reason);
            LogRejected(_security, remote.ToString(), refusal.Reason, refusal.Detail);
            socket.Dispose();
            return;
        }

        try
        {
            await AcceptAdmittedAsync(socket, remote, stoppingToken);
        }
        finally
        {
            lock (_lock)
            {
                if (--_inbound[remote.Address] == 0)
                {
                    _inbound.Remove(remote.Address);
                }
            }
        }
    }

    private async Task AcceptAdmittedAsync(Socket socket, IPEndPoint remote, CancellationToken stoppingToken)
    {
        PeerConnection connection;
        try
        {
            connection = await _transport.AcceptAsync(socket, stoppingToken);
        }
        catch (PeerLinkException e)
        {
            if (e.Reason is not null)
            {
                _metrics.Rejected(e.Reason);
                LogRejected(_security, remote.ToString(), e.Reason, e.Message);
            }
            else
            {
                LogInboundFailed(_logger, remote.ToString(), e.Message);
            }

            return;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            LogInboundFailed(_logger, remote.ToString(), e.Message);
            socket.Dispose();
            return;
        }

        await RunLinkAsync(connection, PeerSource.Inbound, stoppingToken);
    }

    /// <summary>
    /// Admits an inbound connection before any TLS work is spent on it: links and handshakes in progress count
    /// against MAX_PEER_LINKS, and one remote address may hold at most four inbound connections (loopback exempt).
    /// An admitted connection is counted in <see cref="_inbound"/> until it ends.
    /// </summary>
    private P2pRefusal? AdmitInbound(IPAddress remote)
    {
        lock (_lock)
        {
            var inboundUnregistered = _inbound.Values.Sum() - _links.Values.Count(l => !l.Dialled);
            if (_links.Count + _pending.Count(l => l.Dialled) + Math.Max(0, inboundUnregistered) >= _network.MaxPeerLinks)
            {
                return new P2pRefusal(P2pRejection.Limit, $"MAX_PEER_LINKS ({_network.MaxPeerLinks}) links are open or being opened");
            }

            var fromThere = _inbound.GetValueOrDefault(remote);
            if (!IPAddress.IsLoopback(remote) && fromThere >= MaxInboundPerAddress)
            {
                return new P2pRefusal(P2pRejection.Limit, $"{MaxInboundPerAddress} inbound links from {remote} are open already");
            }

            _inbound[remote] = fromThere + 1;
        }

        return null;
    }

    /// <summary>
    /// Keeps a peer that discovery found (<paramref name="source"/>: <c>lan</c>, later <c>dht</c>) linked: dials it,
    /// and redials a lost link, until <see cref="Forget"/>. A new address replaces the old one; a static entry's own
    /// loop is left alone. The first dial waits <paramref name="delay"/> (so that of two nodes that found each other,
    /// one dials and the other finds the link open).
    /// </summary>
    public void Discovered(PeerAddress peer, string source, TimeSpan delay = default)
    {
        ArgumentNullException.ThrowIfNull(peer);
        if (peer.NodeId == _identity.NodeId || _network.BootstrapPeers.Any(p => p.NodeId == peer.NodeId) || _stopping.IsCancellationRequested)
        {
            return;
        }

        CancellationTokenSource stop;
        lock (_lock)
        {
            if (_discovered.TryGetValue(peer.NodeId, out var current))
            {
                if (current.Peer == peer)
                {
                    return;
                }

                current.Stop.Cancel();
                current.Stop.Dispose();
            }

            stop = CancellationTokenSource.CreateLinkedTokenSource(_stopping);
            _discovered[peer.NodeId] = (peer, stop);
        }

        var token = stop.Token;
        _ = Task.Run(
            async () =>
            {
                try
                {
                    if (delay > TimeSpan.Zero)
                    {
                        await Task.Delay(delay, _time, token);
                    }

                    await DialLoopAsync(peer, source, token);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    // Forgotten or stopping before the first dial.
                }
            },
            CancellationToken.None);
    }

    /// <summary>Stops dialling a discovered peer (it said goodbye or vanished); an open link stays until it fails.</summary>
    public void Forget(string nodeId)
    {
        lock (_lock)
        {
            if (_discovered.Remove(nodeId, out var current))
            {
                current.Stop.Cancel();
                current.Stop.Dispose();
            }
        }
    }

    private async Task DialLoopAsync(PeerAddress peer, string source, CancellationToken stoppingToken)
    {
        var pipeline = DialPipeline();
        var shortLived = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            // Never loop inline: a round that ends at once (a link closed a moment ago) resumes on the thread pool.
            await Task.Yield();
            using var wake = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            lock (_lock)
            {
                _redial[peer.NodeId] = wake;
            }

            try
            {
                var link = await pipeline.ExecuteAsync(async token => await DialOnceAsync(peer, source, token), wake.Token);
                var opened = _time.GetTimestamp();
                await link.Completion.WaitAsync(wake.Token);

                // A link the peer closes at once (it blocked this node, or is at MAX_PEER_LINKS) is a failed dial for
                // the backoff: the dial itself succeeded, so without this the loop would redial as fast as it can. A
                // duplicate closed while the pair's other link stays open is not.
                var replaced = Current(peer.NodeId) is { Completion.IsCompleted: false };
                shortLived = _time.GetElapsedTime(opened) < StableLink && !replaced ? shortLived + 1 : 0;
                if (shortLived > 0)
                {
                    await Task.Delay(RedialDelay(shortLived), _time, wake.Token);
                }
            }
            catch (OperationCanceledException) when (wake.IsCancellationRequested)
            {
                // Stopping, or a redial was asked for: start over at once.
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // The pipeline retries every failure; this is the edge of the loop, so nothing may end it.
                LogDialFailed(_logger, peer.ToString(), e.Message);
                await Task.Delay(_network.ReconnectInterval, _time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>The longest wait between dials: RECONNECT_MAX_INTERVAL, and at most <see cref="MaxRedialDelay"/>.</summary>
    private TimeSpan RedialCap => _network.ReconnectMaxInterval < MaxRedialDelay ? _network.ReconnectMaxInterval : MaxRedialDelay;

    /// <summary>RECONNECT_INTERVAL doubled for each link in a row that ended within <see cref="StableLink"/>, capped as dials are.</summary>
    private TimeSpan RedialDelay(int shortLived)
    {
        var delay = _network.ReconnectInterval * Math.Pow(2, Math.Min(shortLived - 1, 16));
        return delay < RedialCap ? delay : RedialCap;
    }

    /// <summary>
    /// Retries with exponential backoff and jitter from RECONNECT_INTERVAL, capped at RECONNECT_MAX_INTERVAL and at
    /// most 10 s, around a circuit breaker that opens after three failures for at most RECONNECT_INTERVAL.
    /// </summary>
    private ResiliencePipeline<PeerLink> DialPipeline()
    {
        var interval = _network.ReconnectInterval;
        var cap = RedialCap;
        var handle = new PredicateBuilder<PeerLink>().Handle<Exception>(e => e is not OperationCanceledException);
        return new ResiliencePipelineBuilder<PeerLink> { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions<PeerLink>
            {
                ShouldHandle = handle,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = interval < cap ? interval : cap,
                MaxDelay = cap,
                MaxRetryAttempts = int.MaxValue,
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<PeerLink>
            {
                ShouldHandle = handle,
                FailureRatio = 1.0,
                MinimumThroughput = 3,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = interval < TimeSpan.FromMilliseconds(500) ? TimeSpan.FromMilliseconds(500) : interval,
            })
            .Build();
    }

    private async Task<PeerLink> DialOnceAsync(PeerAddress peer, string source, CancellationToken cancellationToken)
    {
        try
        {
            return await DialAndOpenAsync(peer, source, cancellationToken);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new PeerLinkException("timed out while linking", null, e);
        }
    }

    private async Task<PeerLink> DialAndOpenAsync(PeerAddress peer, string source, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_links.TryGetValue(peer.NodeId, out var open) && !open.Completion.IsCompleted)
            {
                return open;
            }
        }

        _table.Update(peer.NodeId, e => e.Link == PeerLinkState.Open ? e : e with { Link = PeerLinkState.Connecting });
        PeerConnection connection;
        try
        {
            connection = await _transport.DialAsync(peer, cancellationToken);
        }
        catch (Exception e) when (e is PeerLinkException or IOException or SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            var reason = (e as PeerLinkException)?.Reason;
            if (reason is not null)
            {
                _metrics.Rejected(reason);
                LogRejected(_security, peer.ToString(), reason, e.Message);
            }
            else
            {
                LogDialFailed(_logger, peer.ToString(), e.Message);
            }

            var error = e is OperationCanceledException
                ? $"no answer within {_transport.HandshakeTimeout.TotalSeconds:0.###} s while linking (TCP, TLS, WebSocket): the peer or the path is down"
                : e.Message;
            _table.Update(peer.NodeId, entry => entry.Link == PeerLinkState.Open ? entry : entry with { Link = PeerLinkState.Failed, LastError = error });
            throw;
        }

        var link = await OpenLinkAsync(connection, source, cancellationToken)
            ?? (Current(peer.NodeId) is { Completion.IsCompleted: false } current ? current : null)
            ?? throw new PeerLinkException(_table.Get(peer.NodeId)?.LastError ?? "the link was refused");
        if (!link.Dialled)
        {
            // The peer's own link to this node won (it was dialled by the lower id): follow that one.
            return link;
        }

        _ = Task.Run(() => RunOpenLinkAsync(link, _stopping), CancellationToken.None);
        return link;
    }

    private async Task RunLinkAsync(PeerConnection connection, string source, CancellationToken stoppingToken)
    {
        if (await OpenLinkAsync(connection, source, stoppingToken) is { } link)
        {
            await RunOpenLinkAsync(link, stoppingToken);
        }
    }

    /// <summary>Exchanges hellos and registers the link; null (and the connection closed) when either side refused.</summary>
    private async Task<PeerLink?> OpenLinkAsync(PeerConnection connection, string source, CancellationToken cancellationToken)
    {
        var link = new PeerLink(connection, _timings, _time, _metrics);
        lock (_lock)
        {
            _pending.Add(link);
        }

        try
        {
            var record = await link.HandshakeAsync(PeerLink.Hello(CurrentRecord(), _replay, _identity), _replay, cancellationToken);
            await RefuseIfBlockedAsync(link, record.Id);
            var duplicate = Register(link);

            // Blocked meanwhile: the block closes the links registered when it is made, so one registered just after it is
            // refused here (it was not yet there to close).
            if (_blocklist.IsBlocked(record.Id))
            {
                Unregister(link);
                if (duplicate is not null)
                {
                    await duplicate.CloseAsync("blocked by this node's operator", System.Net.WebSockets.WebSocketCloseStatus.PolicyViolation);
                }

                await RefuseIfBlockedAsync(link, record.Id);
            }

            lock (_lock)
            {
                // Under the lock, so that the entry shows this link open only while it is the registered one.
                var registered = ReferenceEquals(_links.GetValueOrDefault(record.Id), link);
                _table.Update(record.Id, e => e with
                {
                    FoundBy = new SortedSet<string>(e.FoundBy.Append(source), StringComparer.Ordinal),
                    Addresses = [.. e.Addresses.Union(record.Content.Addresses, StringComparer.Ordinal)],
                    Tier = record.Content.Tier,
                    Region = record.Content.Region,
                    LastSeen = _time.GetUtcNow(),
                    Link = registered ? PeerLinkState.Open : e.Link,
                    RttMs = registered ? link.RttMs : e.RttMs,
                    LastError = registered ? null : e.LastError,
                    Record = record.Supersedes(e.Record) ? record : e.Record,
                });
            }

            if (duplicate is not null)
            {
                await duplicate.CloseAsync("duplicate: one link per pair of nodes, the one dialled by the lower id is kept");
            }

            if (!ReferenceEquals(Current(record.Id), link))
            {
                await link.CloseAsync("duplicate: one link per pair of nodes, the one dialled by the lower id is kept");
                await link.DisposeAsync();
                return null;
            }

            LogOpened(_logger, NodeRecord.Short(record.Id), connection.Remote.ToString(), connection.Dialled ? "outbound" : "inbound", link.RttMs);
            return link;
        }
        catch (Exception e) when (e is PeerLinkException or IOException or System.Net.WebSockets.WebSocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            var reason = (e as PeerLinkException)?.Reason;
            if (reason is not null)
            {
                LogRejected(_security, connection.Remote.ToString(), reason, e.Message);
            }

            _table.Update(connection.ProvenId, entry => entry.Link == PeerLinkState.Open ? entry : entry with
            {
                FoundBy = new SortedSet<string>(entry.FoundBy.Append(source), StringComparer.Ordinal),
                Link = PeerLinkState.Failed,
                LastError = e is OperationCanceledException ? "no hello within " + _timings.HelloTimeout.TotalSeconds + " s" : e.Message,
            });
            await link.DisposeAsync();
            if (connection.Dialled)
            {
                throw;
            }

            return null;
        }
        finally
        {
            lock (_lock)
            {
                _pending.Remove(link);
            }
        }
    }

    private async Task RunOpenLinkAsync(PeerLink link, CancellationToken stoppingToken)
    {
        // Every pong refreshes the peer's rttMs and lastSeen in /api/peers (CONTRACTS: measured by the hello, then by every ping).
        void OnPong(double rttMs)
        {
            if (ReferenceEquals(Current(link.PeerId), link))
            {
                _table.Update(link.PeerId, e => e with { LastSeen = _time.GetUtcNow(), RttMs = rttMs });
            }
        }

        link.PongReceived += OnPong;
        try
        {
            await link.RunAsync(DispatchAsync, stoppingToken);
        }
        finally
        {
            link.PongReceived -= OnPong;
            bool current;
            lock (_lock)
            {
                // Under the lock, so that a link that replaces this one meanwhile is not shown failed.
                current = _links.TryGetValue(link.PeerId, out var registered) && ReferenceEquals(registered, link);
                if (current)
                {
                    _links.Remove(link.PeerId);
                    _table.Update(link.PeerId, e => e with { Link = PeerLinkState.Failed, LastError = link.CloseReason, LastSeen = link.LastHeard });
                }
            }

            if (current)
            {
                LogClosed(_logger, NodeRecord.Short(link.PeerId), link.CloseReason ?? "closed");
            }

            if (link.CutOffReason is { } reason)
            {
                LogRejected(_security, link.Remote.ToString(), reason, link.CloseReason ?? reason);
            }

            await link.DisposeAsync();
        }
    }

    /// <summary>Closes <paramref name="link"/> and throws when its peer is blocked.</summary>
    private async Task RefuseIfBlockedAsync(PeerLink link, string peerId)
    {
        if (_blocklist.IsBlocked(peerId))
        {
            _metrics.Rejected(P2pRejection.Blocked);
            await link.CloseAsync("blocked by this node's operator", System.Net.WebSockets.WebSocketCloseStatus.PolicyViolation);
            throw new PeerLinkException($"{NodeRecord.Short(peerId)} is blocked by this node's operator (DELETE /api/peers/{{id}}/block lifts it)", P2pRejection.Blocked);
        }
    }

    /// <summary>Takes <paramref name="link"/> out of the registered links if it is the one registered.</summary>
    private void Unregister(PeerLink link)
    {
        lock (_lock)
        {
            if (_links.TryGetValue(link.PeerId, out var registered) && ReferenceEquals(registered, link))
            {
                _links.Remove(link.PeerId);
            }
        }
    }

    /// <summary>Registers an open link; returns the link it displaces (to be closed), if any.</summary>
    private PeerLink? Register(PeerLink link)
    {
        lock (_lock)
        {
            if (!_links.TryGetValue(link.PeerId, out var existing))
            {
                if (_links.Count >= _network.MaxPeerLinks)
                {
                    _metrics.Rejected(P2pRejection.Limit);
                    throw new PeerLinkException($"MAX_PEER_LINKS ({_network.MaxPeerLinks}) links are open", P2pRejection.Limit);
                }

                _links[link.PeerId] = link;
                return null;
            }

            if (Keeps(link, existing))
            {
                _links[link.PeerId] = link;
                return existing;
            }

            return null;
        }
    }

    /// <summary>Of two links to one peer, the one dialled by the lower id wins; dialled by the same node, the newer wins (the old one is likely dead).</summary>
    private bool Keeps(PeerLink candidate, PeerLink existing)
    {
        var candidateDialler = candidate.Dialled ? _identity.NodeId : candidate.PeerId;
        var existingDialler = existing.Dialled ? _identity.NodeId : existing.PeerId;
        return candidateDialler == existingDialler || string.CompareOrdinal(candidateDialler, existingDialler) < 0;
    }

    private PeerLink? Current(string peerId)
    {
        lock (_lock)
        {
            return _links.GetValueOrDefault(peerId);
        }
    }

    private async ValueTask<bool> DispatchAsync(PeerLink link, string type, JsonObject message, CancellationToken cancellationToken)
    {
        _table.Update(link.PeerId, e => e with { LastSeen = _time.GetUtcNow(), RttMs = link.RttMs });
        if (!_handlers.TryGetValue(type, out var handler))
        {
            return false;
        }

        await handler.HandleAsync(link, message, cancellationToken);
        return true;
    }

    private IReadOnlyList<string> AdvertisedAddresses()
    {
        if (Port == 0)
        {
            return [];
        }

        if (_network.AdvertiseAddress is { } advertised)
        {
            return [new DnsEndPointText(advertised, Port).ToString()];
        }

        var bound = IPAddress.Parse(_network.P2pHost);
        if (!bound.Equals(IPAddress.Any) && !bound.Equals(IPAddress.IPv6Any))
        {
            return [new DnsEndPointText(bound.ToString(), Port).ToString()];
        }

        return [.. NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .Where(a => (a.AddressFamily == AddressFamily.InterNetwork || (bound.Equals(IPAddress.IPv6Any) && !a.IsIPv6LinkLocal)) && !IPAddress.IsLoopback(a))
            .Select(a => new DnsEndPointText(a.ToString(), Port).ToString())
            .Distinct(StringComparer.Ordinal)
            .Take(4)];
    }

    private static long Finite(long value) => value is long.MaxValue or < 0 ? 0 : value;

    private static double Finite(double value) => double.IsFinite(value) && value is >= 0 and < 1e9 ? Math.Round(value, 2) : 0;
}
