using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Regional;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Networking.Regional;

/// <summary>Time limits of the regional link that are fixed by the protocol rather than configured.</summary>
internal sealed record RegionalLinkTimings
{
    /// <summary>Dialling (TCP, TLS, WebSocket upgrade) gives up after this.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>No <c>network_state</c> within this time after <c>join</c> is a failed join.</summary>
    public TimeSpan JoinTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>At shutdown, flushing the outbox and sending <c>leave</c> may take this long.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(3);
}

/// <summary>
/// The link to the regional node: dials REGIONAL_NODE_URL (else the first BOOTSTRAP_NODES entry), joins,
/// sends <c>node_status</c> every HEARTBEAT_INTERVAL, sends the outbox in order, hands task assignments to
/// <see cref="RegionalTaskIntake"/>, records rewards, keeps the peer list, and after any close or failed join
/// reconnects with capped exponential backoff and jitter: one reconnect is scheduled per failure, and after
/// MAX_RECONNECT_ATTEMPTS consecutive failures the state is <see cref="RegionalLinkState.Failed"/> while
/// retrying continues at the capped interval.
/// </summary>
/// <remarks>
/// Thread-safe: <see cref="Snapshot"/> and <see cref="RequestReset"/> may be called from any thread. Lifecycle: a
/// hosted service registered after the task engine's, so that its <see cref="StopAsync"/> (flush the outbox,
/// send <c>leave</c>, close) runs before the engine stops.
/// </remarks>
internal sealed partial class RegionalLink : BackgroundService, IRegionalLinkStatus
{
    private const int RecentErrorCount = 20;
    private const int RecentSendCount = 64;

    private readonly NetworkOptions _network;
    private readonly NodeOptions _node;
    private readonly NodeIdentity _identity;
    private readonly IRegionalTransport _transport;
    private readonly RegionalTaskIntake _intake;
    private readonly RegionalOutbox _outbox;
    private readonly EarningsLedger _earnings;
    private readonly TaskEngine _engine;
    private readonly ResourceSampler _sampler;
    private readonly Core.Hardware.HardwareProfiler? _profiler;
    private readonly Core.Resources.IResourceLedger? _ledger;
    private readonly Core.Peers.PeerTable? _peerTable;
    private readonly Core.Aggregation.IAggregationGroup? _aggregation;
    private readonly RegionalLinkTimings _timings;
    private readonly TimeProvider _time;
    private readonly ILogger<RegionalLink> _logger;
    private readonly ILogger _security;
    private readonly Hosting.SecurityEvents? _securityEvents;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, JsonObject> _peers = new(StringComparer.Ordinal);
    private readonly Queue<RegionalErrorRecord> _recentErrors = new();
    private readonly LinkedList<RecentSend> _recentSends = new();
    private RegionalLinkState _state;
    private DateTimeOffset _since;
    private long _reconnects;
    private int _failures;
    private string? _reason;
    private DateTimeOffset? _joinedAt;
    private double? _lastJoinRoundTripMs;
    private JsonObject? _lastNodeStatus;
    private DateTimeOffset? _lastNodeStatusAt;
    private long _malformed;
    private long _oversized;
    private long _badSignatures;
    private long _unsigned;
    private long _refusedRewards;

    // The regional node's key: REGIONAL_NODE_KEY, else the key of the first validly signed frame. Once
    // pinned, only frames it signed are accepted, across reconnects, until the node restarts.
    private byte[]? _pinnedKey;
    private string? _pinnedBy;
    private CancellationTokenSource? _resetSource;
    private Session? _session;
    private volatile bool _stopping;

    public RegionalLink(
        NetworkOptions network,
        NodeOptions node,
        NodeIdentity identity,
        IRegionalTransport transport,
        RegionalTaskIntake intake,
        RegionalOutbox outbox,
        EarningsLedger earnings,
        TaskEngine engine,
        ResourceSampler sampler,
        RegionalLinkTimings timings,
        TimeProvider time,
        ILoggerFactory loggers,
        Core.Hardware.HardwareProfiler? profiler = null,
        Hosting.SecurityEvents? securityEvents = null,
        Core.Peers.PeerTable? peerTable = null,
        Core.Aggregation.IAggregationGroup? aggregation = null,
        Core.Resources.IResourceLedger? ledger = null)
    {
        _ledger = ledger;
        _peerTable = peerTable;
        _aggregation = aggregation;
        _profiler = profiler;
        _securityEvents = securityEvents;
        _pinnedKey = network.RegionalNodeKey;
        _pinnedBy = network.RegionalNodeKey is null ? null : "REGIONAL_NODE_KEY";
        _network = network;
        _node = node;
        _identity = identity;
        _transport = transport;
        _intake = intake;
        _outbox = outbox;
        _earnings = earnings;
        _engine = engine;
        _sampler = sampler;
        _timings = timings;
        _time = time;
        _logger = loggers.CreateLogger<RegionalLink>();
        _security = loggers.CreateLogger(Hosting.NodeLogging.SecurityCategory);
        Url = RegionalEndpoint.Resolve(network);
        _state = Url is null ? RegionalLinkState.Disabled : RegionalLinkState.Connecting;
        _since = time.GetUtcNow();
    }

    /// <summary>The URL dialled, with <c>/ws</c> appended when the configured one had no path; null when standalone.</summary>
    public Uri? Url { get; }

    public RegionalLinkSnapshot Snapshot()
    {
        lock (_lock)
        {
            return new RegionalLinkSnapshot
            {
                State = _state,
                Url = Url,
                Since = _since,
                Reconnects = _reconnects,
                ConsecutiveFailures = _failures,
                Reason = _reason,
                JoinedAt = _joinedAt,
                LastJoinRoundTripMs = _lastJoinRoundTripMs,
                LastNodeStatus = (JsonObject?)_lastNodeStatus?.DeepClone(),
                LastNodeStatusAt = _lastNodeStatusAt,
                Peers = [.. _peers.Values.Select(p => (JsonObject)p.DeepClone())],
                RecentErrors = [.. _recentErrors],
                Dropped = new DroppedFrameCounts(Interlocked.Read(ref _malformed), Interlocked.Read(ref _oversized), Interlocked.Read(ref _badSignatures), Interlocked.Read(ref _unsigned)),
                PinnedKey = _pinnedKey is null ? null : Convert.ToBase64String(_pinnedKey),
                PinnedBy = _pinnedBy,
                RefusedRewards = Interlocked.Read(ref _refusedRewards),
            };
        }
    }

    /// <summary>
    /// Closes the current link (or cuts short the wait before the next attempt) and reconnects at once, with
    /// the failure count cleared. Returns false when there is nothing to reset (standalone, or a configuration
    /// that cannot work).
    /// </summary>
    public bool RequestReset()
    {
        CancellationTokenSource? source;
        lock (_lock)
        {
            if (_state == RegionalLinkState.Disabled || _resetSource is null)
            {
                return false;
            }

            source = _resetSource;
        }

        LogResetRequested(_logger);
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The attempt it belonged to has just ended; the loop is about to reconnect anyway.
        }

        return true;
    }

    /// <summary>
    /// The capped exponential backoff: RECONNECT_INTERVAL after a close or the first failure, doubling with each
    /// further consecutive failure up to RECONNECT_MAX_INTERVAL, minus up to 20% jitter so that nodes that lost
    /// the same regional node do not all come back at the same instant.
    /// </summary>
    /// <param name="failures">Consecutive failures so far (0 after a link that was joined and then closed).</param>
    /// <param name="initial">RECONNECT_INTERVAL.</param>
    /// <param name="max">RECONNECT_MAX_INTERVAL.</param>
    /// <param name="jitter">A random number in [0, 1).</param>
    public static TimeSpan Backoff(int failures, TimeSpan initial, TimeSpan max, double jitter)
    {
        var capped = Math.Min(max.TotalMilliseconds, initial.TotalMilliseconds * Math.Pow(2, Math.Clamp(failures - 1, 0, 30)));
        return TimeSpan.FromMilliseconds(capped * (1 - (0.2 * Math.Clamp(jitter, 0, 1))));
    }

    /// <summary>Flushes the outbox, sends <c>leave</c> and closes the link, then stops the loop.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        _intake.Stopping = true;
        Session? session;
        lock (_lock)
        {
            session = _session;
        }

        if (session is { IsJoined: true })
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_timings.StopTimeout);
            try
            {
                await session.FlushAsync(timeout.Token);
                await session.SendAsync(RegionalMessages.Leave(_identity.PeerId), timeout.Token);
                LogLeft(_logger, Url!);
                await session.CloseAsync("node stopping", timeout.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException)
            {
                LogLeaveFailed(_logger, e.Message);
            }
        }

        await base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Url is null)
        {
            LogStandalone(_logger);
            return;
        }

        var refusal = RegionalEndpoint.TransportRefusal(Url, _network.AllowInsecureTransport) ?? _transport.SetupError;
        if (refusal is not null)
        {
            SetState(RegionalLinkState.Failed, refusal);
            LogCannotLink(_logger, refusal);
            return;
        }

        // Let the host finish starting before the first dial.
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested && !_stopping)
        {
            using var reset = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            lock (_lock)
            {
                _resetSource = reset;
            }

            var outcome = await RunAttemptAsync(reset.Token);
            if (stoppingToken.IsCancellationRequested || _stopping)
            {
                break;
            }

            if (reset.IsCancellationRequested)
            {
                MarkReset();
            }
            else
            {
                TimeSpan delay;
                bool gaveUp;
                int failures;
                lock (_lock)
                {
                    _failures = outcome.Joined ? 0 : _failures + 1;
                    failures = _failures;
                    var failed = _failures >= _network.MaxReconnectAttempts;
                    gaveUp = failed && _state != RegionalLinkState.Failed;
                    Transition(failed ? RegionalLinkState.Failed : RegionalLinkState.Connecting, outcome.Reason);
                    delay = Backoff(_failures, _network.ReconnectInterval, _network.ReconnectMaxInterval, Random.Shared.NextDouble());
                }

                if (gaveUp)
                {
                    LogGaveUp(_logger, failures, Url, outcome.Reason);
                }

                // Once the link is reported failed the node keeps retrying quietly: the state and /health say it already.
                LogReconnecting(_logger, failures >= _network.MaxReconnectAttempts && !gaveUp ? LogLevel.Debug : LogLevel.Warning, Url, outcome.Reason, Math.Round(delay.TotalMilliseconds));
                try
                {
                    // One reconnect per failure: this wait is the only thing that starts the next attempt.
                    await Task.Delay(delay, _time, reset.Token);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (OperationCanceledException)
                {
                    MarkReset();
                }
            }

            lock (_lock)
            {
                _resetSource = null;
                _reconnects++;
            }
        }
    }

    private void MarkReset()
    {
        lock (_lock)
        {
            _failures = 0;
            Transition(RegionalLinkState.Connecting, "reset by the operator");
        }
    }

    /// <summary>One connection: dial, join, serve until the link closes. Never throws for network trouble.</summary>
    private async Task<AttemptOutcome> RunAttemptAsync(CancellationToken attemptToken)
    {
        IRegionalConnection connection;
        using (var connect = CancellationTokenSource.CreateLinkedTokenSource(attemptToken))
        {
            connect.CancelAfter(_timings.ConnectTimeout);
            try
            {
                connection = await _transport.ConnectAsync(Url!, connect.Token);
            }
            catch (OperationCanceledException) when (!attemptToken.IsCancellationRequested)
            {
                return AttemptOutcome.Failed($"connecting to {Url} timed out after {_timings.ConnectTimeout.TotalSeconds} s");
            }
            catch (OperationCanceledException)
            {
                return AttemptOutcome.Failed("cancelled");
            }
            catch (Exception e)
            {
                return AttemptOutcome.Failed($"cannot connect to {Url}: {Describe(e)}");
            }
        }

        await using (connection)
        {
            using var session = new Session(this, connection);
            return await session.RunAsync(attemptToken);
        }
    }

    private static string Describe(Exception e)
    {
        var messages = new List<string>();
        for (var current = e; current is not null; current = current.InnerException)
        {
            if (!messages.Any(m => m.Contains(current.Message, StringComparison.Ordinal)))
            {
                messages.Add(current.Message);
            }
        }

        return string.Join(": ", messages);
    }

    private void SetState(RegionalLinkState state, string? reason)
    {
        lock (_lock)
        {
            Transition(state, reason);
        }
    }

    /// <summary>Changes the state (and its <c>since</c>) under <see cref="_lock"/>.</summary>
    private void Transition(RegionalLinkState state, string? reason)
    {
        if (_state != state)
        {
            _state = state;
            _since = _time.GetUtcNow();
        }

        _reason = reason;
    }

    /// <summary>The regional node's pinned key, null while unpinned.</summary>
    private byte[]? PinnedKey
    {
        get
        {
            lock (_lock)
            {
                return _pinnedKey;
            }
        }
    }

    /// <summary>Pins the key of the first validly signed frame; from then on only frames it signed are accepted.</summary>
    private void Pin(byte[] publicKey)
    {
        lock (_lock)
        {
            if (_pinnedKey is not null)
            {
                return;
            }

            _pinnedKey = publicKey;
            _pinnedBy = "first signed frame";
        }

        LogKeyPinned(_security, Convert.ToBase64String(publicKey));
    }

    private void OnJoined(Session session, TimeSpan roundTrip)
    {
        lock (_lock)
        {
            _session = session;
            _failures = 0;
            _joinedAt = _time.GetUtcNow();
            _lastJoinRoundTripMs = Math.Round(roundTrip.TotalMilliseconds, 3);
            Transition(RegionalLinkState.Joined, null);
        }

        LogJoined(_logger, Url!, roundTrip.TotalMilliseconds);
    }

    /// <summary>
    /// After a link went silent, the rows it may have swallowed are sent again once the node has rejoined: every
    /// outbox row marked sent within the last keep-alive window (REGIONAL_KEEPALIVE_TIMEOUT and one ping interval:
    /// what was sent before the last answered ping had been read by the regional node). The protocol has no
    /// acknowledgement, so a row that did arrive is delivered twice, with the same content (at least once). A close
    /// or a reset is noticed at once and re-sends nothing: a regional node answers a repeated report with an error.
    /// </summary>
    private void RequeueSwallowed()
    {
        var window = SwallowWindow(_network);
        var requeued = _outbox.Resend(_time.GetUtcNow() - window);
        if (requeued > 0)
        {
            LogRequeued(_logger, requeued, window.TotalSeconds);
        }
    }

    /// <summary>How far back a silent link may have swallowed what was sent: the keep-alive timeout, one ping interval and a second.</summary>
    internal static TimeSpan SwallowWindow(NetworkOptions network) => network.RegionalKeepAliveTimeout + (network.RegionalKeepAliveTimeout / 3) + TimeSpan.FromSeconds(1);

    /// <summary>
    /// At start after an unclean stop: the link may have been silent, not yet found dead, when the node died, so the
    /// rows marked sent in the last <see cref="SwallowWindow"/> before the last one sent are sent again after the join
    /// (at least once; a row that did arrive arrives twice, with the same content).
    /// </summary>
    internal static void RequeueAfterUncleanStop(RegionalOutbox outbox, NetworkOptions network, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(outbox);
        ArgumentNullException.ThrowIfNull(network);
        var window = SwallowWindow(network);
        var requeued = outbox.ResendLastSent(window);
        if (requeued > 0)
        {
            LogRequeuedAfterCrash(logger, requeued, window.TotalSeconds);
        }
    }

    private void OnSessionEnded(Session session)
    {
        lock (_lock)
        {
            if (ReferenceEquals(_session, session))
            {
                _session = null;
            }
        }
    }

    /// <summary>A full node_status with the live figures.</summary>
    private JsonObject BuildNodeStatus()
    {
        var usage = _sampler.Current;
        const double bytesPerGigabyte = 1024d * 1024 * 1024;
        return RegionalMessages.NodeStatus(_identity.PeerId, new NodeStatusFigures
        {
            NodeType = _node.NodeType,
            NodeTier = _node.NodeTier,
            Region = _node.Region,
            // CONTRACTS "Peer links": the number of open peer links.
            Connections = _peerTable?.OpenLinks ?? 0,
            CpuPercent = usage.HostCpuPercent,
            MemoryAvailableGb = usage.MemoryAvailableBytes / bytesPerGigabyte,
            StorageFreeGb = usage.StorageFreeBytes / bytesPerGigabyte,
            // The profile's figure: BANDWIDTH_MBPS, else the measured bandwidth, else the link speed (0 when none is known).
            BandwidthMbps = _profiler?.Current.Network.BandwidthMbps ?? _network.BandwidthMbps ?? 0,
            Earnings = _earnings.Totals.Total,
            ActiveTasks = _engine.RunningCount + _engine.QueuedCount,
            CompletedTasks = _engine.Counts().Completed,
            Now = _time.GetUtcNow(),

            // docs/PROTOCOL.md: the benchmarked speed, so that work can be placed by speed and not only by cores.
            Capacity = _profiler is null ? null : Core.Optimization.BenchmarkCapacity.Of(_profiler.Current, _ledger?.Allowed),

            // CONTRACTS "API additions": a group's leader reports the group beside its own resources.
            Aggregation = _aggregation?.LeaderStatus(),
        });
    }

    private void NoteSent(string type, string? taskId, long? sequence, JsonObject message)
    {
        lock (_lock)
        {
            _recentSends.AddLast(new RecentSend(type, taskId, sequence));
            if (_recentSends.Count > RecentSendCount)
            {
                _recentSends.RemoveFirst();
            }

            if (type == RegionalMessageTypes.NodeStatus)
            {
                _lastNodeStatus = message;
                _lastNodeStatusAt = _time.GetUtcNow();
            }
        }
    }

    /// <summary>
    /// Records an <c>error</c> the regional node sent after the join. The protocol has no correlation id, so the
    /// error is attributed to the latest message it can be about: "Task completion failed" to the latest
    /// task_completed, "Task acceptance failed" to the latest task_accepted, "Failed to handle X" to the latest
    /// X, anything else to the latest message sent.
    /// </summary>
    private void RecordRegionalError(string error)
    {
        RecentSend? match;
        lock (_lock)
        {
            var type = error switch
            {
                "Task completion failed" => RegionalMessageTypes.TaskCompleted,
                "Task acceptance failed" => RegionalMessageTypes.TaskAccepted,
                _ when error.StartsWith("Failed to handle ", StringComparison.Ordinal) => error["Failed to handle ".Length..],
                _ => null,
            };
            match = _recentSends.Reverse().FirstOrDefault(s => type is null || s.Type == type);
            _recentErrors.Enqueue(new RegionalErrorRecord(_time.GetUtcNow(), error, match?.Type, match?.TaskId, match?.Sequence));
            while (_recentErrors.Count > RecentErrorCount)
            {
                _recentErrors.Dequeue();
            }
        }

        if (match?.Sequence is { } sequence)
        {
            _outbox.RecordError(sequence, error);
        }

        LogRegionalError(_logger, error, match?.Type ?? "(unknown)", match?.TaskId ?? string.Empty);
    }

    private void ReplacePeers(JsonArray? peers)
    {
        lock (_lock)
        {
            _peers.Clear();
            foreach (var peer in peers?.OfType<JsonObject>() ?? [])
            {
                AddPeerLocked(peer);
            }
        }

        PublishPeers();
    }

    /// <summary>Hands the regional peer list to the peer table (<c>foundBy: ["regional"]</c>, no address, no link).</summary>
    private void PublishPeers()
    {
        if (_peerTable is null)
        {
            return;
        }

        List<(string, string?, string?)> peers;
        lock (_lock)
        {
            peers = [.. _peers.Select(p => (p.Key, RegionalMessages.StringMember(p.Value, "nodeTier") ?? RegionalMessages.StringMember(p.Value, "tier"), RegionalMessages.StringMember(p.Value, "region")))];
        }

        _peerTable.ReplaceSource(Core.Peers.PeerSource.Regional, peers);
    }

    private void AddPeer(JsonObject? peer)
    {
        if (peer is null)
        {
            return;
        }

        lock (_lock)
        {
            AddPeerLocked(peer);
        }

        PublishPeers();
    }

    private void AddPeerLocked(JsonObject peer)
    {
        if (RegionalMessages.StringMember(peer, "peerId") is { Length: > 0 } peerId && peerId != _identity.PeerId)
        {
            _peers[peerId] = (JsonObject)peer.DeepClone();
        }
    }

    private void RemovePeer(string? peerId)
    {
        if (peerId is null)
        {
            return;
        }

        lock (_lock)
        {
            _peers.Remove(peerId);
        }

        PublishPeers();
    }

    private readonly record struct AttemptOutcome(bool Joined, string Reason)
    {
        public static AttemptOutcome Failed(string reason) => new(false, reason);
    }

    private sealed record RecentSend(string Type, string? TaskId, long? Sequence);
}
