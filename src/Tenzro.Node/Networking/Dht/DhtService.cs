using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Dht;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Networking.Peers;

namespace Tenzro.Node.Networking.Dht;

/// <summary>
/// The node's place in the Kademlia DHT: binds the UDP socket on the peer links' port number, rejoins from the
/// saved routing table, joins through the <c>udp://</c> entries of BOOTSTRAP_NODES and the LAN peers, publishes
/// this node's record, refreshes idle buckets every DHT_REFRESH_INTERVAL and saves the table, and feeds every node
/// it finds into the peer table (<c>foundBy: dht</c>).
/// </summary>
/// <remarks>
/// Thread-safe. Lifecycle: the socket is bound in <see cref="StartAsync"/>, after the peer-link listener (it is
/// registered after it), so that with LOCAL_DISCOVERY_PORT=0 both use the port number the listener picked. A port
/// that cannot be bound leaves the DHT <c>failed</c> with the reason and the node running.
/// </remarks>
internal sealed partial class DhtService : BackgroundService, IDhtStatus
{
    /// <summary>This node's record is stored again at least this often (it lives an hour).</summary>
    internal static readonly TimeSpan RepublishInterval = TimeSpan.FromMinutes(10);

    private static readonly TimeSpan SearchTimeout = TimeSpan.FromSeconds(10);
    private readonly NetworkOptions _network;
    private readonly NodeIdentity _identity;
    private readonly PeerLinkService _links;
    private readonly PeerTable _table;
    private readonly DhtContactStore _store;
    private readonly PeerMetrics _peerMetrics;
    private readonly DhtMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<DhtService> _logger;
    private readonly ILogger _security;
    private readonly ConcurrentDictionary<string, PeerAddress> _dialled = new(StringComparer.Ordinal);
    private DhtUdpTransport? _transport;
    private DhtNode? _node;
    private NodeRecord? _published;
    private DateTimeOffset _publishedAt;
    private volatile string _state;

    public DhtService(
        NetworkOptions network,
        NodeIdentity identity,
        PeerLinkService links,
        PeerTable table,
        DhtContactStore store,
        PeerMetrics peerMetrics,
        DhtMetrics metrics,
        TimeProvider time,
        ILoggerFactory loggers)
    {
        _network = network;
        _identity = identity;
        _links = links;
        _table = table;
        _store = store;
        _peerMetrics = peerMetrics;
        _metrics = metrics;
        _time = time;
        _logger = loggers.CreateLogger<DhtService>();
        _security = loggers.CreateLogger(Hosting.NodeLogging.SecurityCategory);
        _state = network.DhtEnabled ? "joining" : "off";
        metrics.Observe(this);
    }

    public bool Enabled => _network.DhtEnabled;

    public string State => _state;

    public string? Error { get; private set; }

    public int Port => _transport?.Port ?? 0;

    public int RoutingTableSize => _node?.RoutingTableSize ?? 0;

    public int StaleContacts => _node?.StaleContacts ?? 0;

    public int BucketsInUse => _node?.BucketsInUse ?? 0;

    public int Records => _node?.RecordsHeld ?? 0;

    public DateTimeOffset? LastRefreshAt => _node?.LastRefreshAt;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_network.DhtEnabled)
        {
            return Task.CompletedTask;
        }

        // One port number for TCP and UDP (CONTRACTS): with LOCAL_DISCOVERY_PORT=0 the listener picked it first.
        var port = _network.LocalDiscoveryPort == 0 ? _links.Port : _network.LocalDiscoveryPort;
        try
        {
            _transport = DhtUdpTransport.Bind(_network.P2pHost, port, _identity, _time);
        }
        catch (SocketException e)
        {
            Error = $"cannot bind the DHT on {_network.P2pHost}:{port}/udp: {e.Message} (set LOCAL_DISCOVERY_PORT to a port free for TCP and UDP, or 0 to pick one)";
            _state = "failed";
            LogBindFailed(_logger, Error);
            return Task.CompletedTask;
        }

        var node = new DhtNode(DhtId.Parse(_identity.NodeId), _transport, _time, new DhtNodeOptions { RefreshInterval = _network.DhtRefreshInterval });
        node.Rejected += Rejected;
        node.LookupCompleted += _metrics.Lookup;
        node.RecordFound += Found;
        _transport.Rejected += Rejected;
        _transport.Received = node.Receive;
        _node = node;
        LogListening(_logger, _network.P2pHost, _transport.Port);
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_node is not { } node || _transport is not { } transport)
        {
            return;
        }

        var receiving = transport.ReceiveLoopAsync(stoppingToken);
        try
        {
            var saved = _store.Load();
            foreach (var entry in saved)
            {
                node.AddContact(entry.Contact);
            }

            await JoinAsync(node, saved.Count, stoppingToken);
            _state = "running";
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(_network.DhtRefreshInterval, _time, stoppingToken);
                await MaintainAsync(node, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            await receiving.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_node is { } node)
        {
            await SaveAsync(node);
        }

        _transport?.Dispose();
    }

    public override void Dispose()
    {
        _transport?.Dispose();
        base.Dispose();
    }

    public async Task<IReadOnlyList<NodeRecord>> FindTierAsync(string tier, string region, CancellationToken cancellationToken)
    {
        if (_node is not { } node || _state != "running")
        {
            return [];
        }

        var result = await node.FindTierAsync(tier, region).WaitAsync(SearchTimeout, cancellationToken);
        var found = result.Records.Where(r => r.Id != _identity.NodeId).ToList();
        foreach (var record in found)
        {
            Found(record);
        }

        Dial(found);
        return found;
    }

    /// <summary>
    /// The peers a tier search found are peers this node wants: each with an address and no open link is dialled and
    /// kept linked (redialled when lost), as many as <c>MAX_PEER_LINKS</c> leaves room for, until
    /// <see cref="ForgetGoneAsync"/> finds it gone.
    /// </summary>
    private void Dial(IEnumerable<NodeRecord> found)
    {
        var room = _links.MaxLinks - _links.OpenLinks;
        var wanted = found.Where(r => _table.Get(r.Id)?.Link != PeerLinkState.Open).Select(DialAddress).OfType<PeerAddress>();
        foreach (var address in wanted.Take(Math.Max(0, room)))
        {
            _dialled[address.NodeId] = address;
            _links.Discovered(address, PeerSource.Dht);
        }
    }

    /// <summary>
    /// Each refresh, a dialled peer whose link is not open is checked: when its record has expired, or it answers no
    /// DHT PING at its address (its UDP port is its TCP port), it has left, and the link service stops redialling it.
    /// A peer whose link is merely being reopened still answers the PING and is kept.
    /// </summary>
    private async Task ForgetGoneAsync(DhtNode node, CancellationToken stoppingToken)
    {
        // Checked together, so that peers that left cost the refresh round one ping timeout, not one each.
        var checks = _dialled.Where(d => _table.Get(d.Key)?.Link != PeerLinkState.Open)
            .Select(async d => (Id: d.Key, Why: await WhyGoneAsync(node, d.Key, d.Value).WaitAsync(stoppingToken)));
        foreach (var (id, why) in await Task.WhenAll(checks))
        {
            if (why is not null && _dialled.TryRemove(id, out _))
            {
                _links.Forget(id);
                _table.Lost(id, PeerSource.Dht);
                LogPeerGone(_logger, NodeRecord.Short(id), why);
            }
        }
    }

    /// <summary>Why a dialled peer whose link is down has left (its record expired, or no answer to a DHT ping); null while it is still there.</summary>
    private async Task<string?> WhyGoneAsync(DhtNode node, string id, PeerAddress address)
    {
        if (_table.Get(id)?.Record is { } record && record.IsExpired(_time.GetUtcNow()))
        {
            return $"its record expired at {record.ExpiresAt:O}";
        }

        return IPAddress.TryParse(address.Host, out var ip) && await node.PingAsync(DhtUdpTransport.Format(new IPEndPoint(ip, address.Port)), DhtId.Parse(id)) is null
            ? $"its link is down and it answers no DHT ping at {address.Host}:{address.Port}"
            : null;
    }

    private static PeerAddress? DialAddress(NodeRecord record) => record.Content.Addresses
        .Select(a => IPEndPoint.TryParse(a, out var endpoint) && endpoint.Port > 0 ? new PeerAddress(record.Id, endpoint.Address.ToString(), endpoint.Port) : null)
        .FirstOrDefault(a => a is not null);

    private async Task JoinAsync(DhtNode node, int saved, CancellationToken stoppingToken)
    {
        var bootstrap = await BootstrapEndpointsAsync(stoppingToken);
        var answered = await node.JoinAsync(bootstrap).WaitAsync(stoppingToken);
        LogJoined(_logger, answered.Count, bootstrap.Count, saved, node.RoutingTableSize);
        await PublishAsync(node, force: true);
        await SaveAsync(node);
    }

    private async Task MaintainAsync(DhtNode node, CancellationToken stoppingToken)
    {
        if (node.LiveContacts == 0)
        {
            // Everyone it knew is gone or silent: start over from the bootstrap entries and the LAN peers.
            await node.JoinAsync(await BootstrapEndpointsAsync(stoppingToken)).WaitAsync(stoppingToken);
        }

        await node.RefreshAsync().WaitAsync(stoppingToken);
        node.ExpireRecords();
        await ForgetGoneAsync(node, stoppingToken);
        await PublishAsync(node, force: false);
        await SaveAsync(node);
    }

    /// <summary>Stores this node's record under its id and tier key when it changed, or every <see cref="RepublishInterval"/> (before it expires).</summary>
    private async Task PublishAsync(DhtNode node, bool force)
    {
        var record = _links.CurrentRecord();
        if (!force && record == _published && _time.GetUtcNow() - _publishedAt < RepublishInterval)
        {
            return;
        }

        var (underId, underTier) = await node.PublishAsync(record);
        _published = record;
        _publishedAt = _time.GetUtcNow();
        LogPublished(_logger, record.Seq, record.Content.Tier, record.Content.Region, underId, underTier);
    }

    /// <summary>
    /// Saves the table for a restart: its live contacts only (a stale one would come back as live and be asked first),
    /// unless every contact is stale (this node's own link down), when all are kept rather than none.
    /// </summary>
    private async Task SaveAsync(DhtNode node)
    {
        try
        {
            var entries = node.Entries();
            var live = entries.Where(e => !e.IsStale).ToList();
            await _store.SaveAsync(live.Count > 0 ? live : entries);
        }
        catch (Exception e) when (e is Core.Storage.StoreException or Microsoft.Data.Sqlite.SqliteException or ObjectDisposedException or InvalidOperationException)
        {
            LogSaveFailed(_logger, e.Message);
        }
    }

    /// <summary>The <c>udp://</c> entries (names resolved) and the addresses of LAN peers, whose UDP port is their TCP port.</summary>
    private async Task<List<string>> BootstrapEndpointsAsync(CancellationToken cancellationToken)
    {
        var endpoints = new List<string>();
        foreach (var entry in _network.DhtContacts)
        {
            if (IPAddress.TryParse(entry.Host, out var address))
            {
                endpoints.Add(DhtUdpTransport.Format(new IPEndPoint(address, entry.Port)));
                continue;
            }

            try
            {
                var resolved = await Dns.GetHostAddressesAsync(entry.Host, cancellationToken);
                endpoints.AddRange(resolved.Take(1).Select(a => DhtUdpTransport.Format(new IPEndPoint(a, entry.Port))));
            }
            catch (SocketException e)
            {
                LogBootstrapUnresolved(_logger, entry.ToString(), e.Message);
            }
        }

        endpoints.AddRange(_table.Snapshot().Where(p => p.FoundBy.Contains(PeerSource.Lan)).SelectMany(p => p.Addresses));
        return [.. endpoints.Distinct(StringComparer.Ordinal)];
    }

    private void Found(NodeRecord record)
    {
        if (record.Id == _identity.NodeId)
        {
            return;
        }

        _table.Update(record.Id, e => e with
        {
            FoundBy = new SortedSet<string>(e.FoundBy.Append(PeerSource.Dht), StringComparer.Ordinal),
            Addresses = [.. e.Addresses.Union(record.Content.Addresses, StringComparer.Ordinal)],
            Tier = record.Content.Tier,
            Region = record.Content.Region,
            Record = record.Supersedes(e.Record) ? record : e.Record,
            LastSeen = e.Link == PeerLinkState.Open ? e.LastSeen : _time.GetUtcNow(),
        });
    }

    private void Rejected(P2pRefusal refusal, string from)
    {
        _peerMetrics.Rejected(refusal.Reason);
        _metrics.Dropped(refusal.Reason);
        LogRejected(_security, from, refusal.Reason, refusal.Detail);
    }
}
