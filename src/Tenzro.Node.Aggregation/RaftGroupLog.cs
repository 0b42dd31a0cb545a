using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Membership;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using DotNext.Net.Security;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Aggregation;

namespace Tenzro.Node.Aggregation;

/// <summary>
/// The group log on DotNext.Net.Cluster's Raft over TCP with TLS 1.3. Both sides of every connection present the
/// peer links' identity-bound certificate and accept only a certificate proving an admitted member: DotNext knows
/// members by address alone and does not check that a sender is a member, so admission is this class's job.
/// The write-ahead log, the snapshot of <see cref="GroupState"/> and the Raft membership live under
/// <see cref="GroupLogStart.Directory"/>, so a restarted member rejoins from its saved state.
/// </summary>
/// <remarks>Thread-safe. Membership changes are serialised (DotNext allows one at a time).</remarks>
internal sealed partial class RaftGroupLog : IGroupLog
{
    /// <summary>How often <see cref="WarmAsync"/> checks the connections to the other members.</summary>
    private static readonly TimeSpan WarmEvery = TimeSpan.FromSeconds(1);

    private readonly GroupLogStart _start;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggers;
    private readonly ConcurrentDictionary<string, byte> _admitted = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _changes = new(1, 1);
    private GroupStateMachine? _machine;
    private WriteAheadLog? _wal;
    private RaftCluster? _cluster;
    private readonly CancellationTokenSource _stopping = new();
    private Task _warming = Task.CompletedTask;

    public RaftGroupLog(GroupLogStart start, ILoggerFactory loggers)
    {
        _start = start;
        _loggers = loggers;
        _logger = loggers.CreateLogger<RaftGroupLog>();
        foreach (var member in start.Known.Members.Append(start.Self))
        {
            _admitted[member.Id] = 0;
        }
    }

    public int Port => _start.Self.EndPoint.Port;

    public bool IsLeader => _cluster?.Leader is { IsRemote: false };

    public string? LeaderId
    {
        get
        {
            if (_cluster?.Leader is not { } leader)
            {
                return null;
            }

            if (!leader.IsRemote)
            {
                return _start.Self.Id;
            }

            return KnownMembers().FirstOrDefault(m => m.EndPoint.Equals(leader.EndPoint))?.Id;
        }
    }

    public GroupState State
    {
        get
        {
            var state = _machine?.State;
            return state is null || state.GroupId.Length == 0 ? _start.Known : state;
        }
    }

    public event Action<GroupState>? Changed;

    public bool Admits(string id) => _admitted.ContainsKey(id);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var root = Directory.CreateDirectory(_start.Directory);
        var snapshots = root.CreateSubdirectory("snapshots");
        _machine = new GroupStateMachine(snapshots, Applied);
        await _machine.RestoreAsync(cancellationToken);
        _wal = new WriteAheadLog(new WriteAheadLog.Options { Location = Path.Combine(root.FullName, "wal") }, _machine);
        var timeout = (int)_start.ElectionTimeout.TotalMilliseconds;
        var configuration = new RaftCluster.TcpConfiguration(new IPEndPoint(IPAddress.Parse(_start.ListenHost), _start.Self.EndPoint.Port))
        {
            PublicEndPoint = _start.Self.EndPoint,
            ColdStart = _start.ColdStart,
            LowerElectionTimeout = timeout,
            UpperElectionTimeout = timeout * 2,

            // Followers learn that an entry is committed from the leader's next append: a heartbeat every twentieth of
            // the election timeout (50 ms at the default, at least 20 ms) brings an assignment or a report to every
            // member within that, rather than within half the election timeout.
            HeartbeatThreshold = Math.Min(0.5, Math.Max(0.05, 20.0 / timeout)),
            RequestTimeout = TimeSpan.FromMilliseconds(timeout),
            ConnectTimeout = TimeSpan.FromMilliseconds(Math.Max(100, timeout / 2)),
            ConfigurationStorage = new EndPointStorage(Path.Combine(root.FullName, "membership")),
            SslOptions = Tls(),
            LoggerFactory = _loggers,
        };
        _cluster = new RaftCluster(configuration) { AuditTrail = _wal };
        _cluster.LeaderChanged += (_, leader) => LogLeader(_logger, leader?.EndPoint?.ToString() ?? "none");
        await _cluster.StartAsync(cancellationToken);
        _warming = WarmAsync(_cluster, _stopping.Token);
        LogStarted(_logger, _start.Self.Raft, _start.ColdStart);
    }

    /// <summary>
    /// Keeps a connection open from this member to every other one. Followers talk only to the leader until it fails;
    /// without this, the election that replaces it would start with a TCP connect and a TLS handshake to each
    /// survivor for the pre-vote (DotNext keeps a member's connection once made, and drops it when a request fails).
    /// A metadata request every <see cref="WarmEvery"/> makes or checks each one; it changes nothing in the log.
    /// </summary>
    private async Task WarmAsync(RaftCluster cluster, CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                foreach (var member in cluster.Members.Where(m => m.IsRemote))
                {
                    try
                    {
                        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                        timeout.CancelAfter(_start.ElectionTimeout);
                        await member.GetMetadataAsync(refresh: true, timeout.Token);
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                    {
                        // The member is down or slow: tried again next time.
                    }
                }

                await Task.Delay(WarmEvery, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    public async Task PublishAsync(GroupState state, CancellationToken cancellationToken)
    {
        var cluster = _cluster ?? throw new InvalidOperationException("the group log is not running");
        await _changes.WaitAsync(cancellationToken);
        try
        {
            foreach (var member in state.Members)
            {
                _admitted[member.Id] = 0;
            }

            await cluster.ReplicateAsync(GroupStateMachine.Encode(state), null, cancellationToken);
        }
        finally
        {
            _changes.Release();
        }
    }

    public async Task AddMemberAsync(GroupMember member, CancellationToken cancellationToken)
    {
        var cluster = _cluster ?? throw new InvalidOperationException("the group log is not running");
        await _changes.WaitAsync(cancellationToken);
        try
        {
            _admitted[member.Id] = 0;
            if (!cluster.Members.Any(m => m.EndPoint.Equals(member.EndPoint)))
            {
                if (!await cluster.AddMemberAsync(member.EndPoint, cancellationToken))
                {
                    throw new InvalidOperationException($"the group log did not take {member.Raft} as a member");
                }
            }

            var next = Replicated().With(member);
            await cluster.ReplicateAsync(GroupStateMachine.Encode(next), null, cancellationToken);
        }
        finally
        {
            _changes.Release();
        }
    }

    public async Task RemoveMemberAsync(string id, CancellationToken cancellationToken)
    {
        var cluster = _cluster ?? throw new InvalidOperationException("the group log is not running");
        await _changes.WaitAsync(cancellationToken);
        try
        {
            if (State.Find(id) is { } member)
            {
                await cluster.RemoveMemberAsync(member.EndPoint, cancellationToken);
                await cluster.ReplicateAsync(GroupStateMachine.Encode(Replicated().Without(id)), null, cancellationToken);
            }

            _admitted.TryRemove(id, out _);
        }
        finally
        {
            _changes.Release();
        }
    }

    public bool StandingAside => _cluster?.Standby ?? false;

    /// <summary>Stands aside between changes, never in the middle of one (DotNext's standby mode: it votes, never stands).</summary>
    public async Task<bool> StandAsideAsync(CancellationToken cancellationToken)
    {
        if (_cluster is not { } cluster)
        {
            return false;
        }

        await _changes.WaitAsync(cancellationToken);
        try
        {
            return await cluster.EnableStandbyModeAsync(cancellationToken);
        }
        finally
        {
            _changes.Release();
        }
    }

    public async Task<bool> StandAgainAsync(CancellationToken cancellationToken) =>
        _cluster is { } cluster && await cluster.RevertToNormalModeAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _warming;
        _stopping.Dispose();
        if (_cluster is { } cluster)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await cluster.StopAsync(timeout.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or InvalidOperationException)
            {
                LogStopFailed(_logger, e.Message);
            }

            await cluster.DisposeAsync();
        }

        if (_wal is not null)
        {
            await _wal.DisposeAsync();
        }

        if (_machine is not null)
        {
            await _machine.DisposeAsync();
        }

        _changes.Dispose();
    }

    /// <summary>The replicated state; before the first entry, the group of this node alone (the founder after its cold start).</summary>
    private GroupState Replicated() =>
        _machine?.State is { GroupId.Length: > 0 } state ? state : new GroupState(_start.Known.GroupId, [_start.Self]);

    private IEnumerable<GroupMember> KnownMembers() => State.Members.Concat(_start.Known.Members);

    private void Applied(GroupState state)
    {
        foreach (var member in state.Members)
        {
            _admitted[member.Id] = 0;
        }

        Changed?.Invoke(state);
    }

    private SslOptions Tls()
    {
        var context = SslStreamCertificateContext.Create(_start.Certificate, null, offline: true);
        var options = new SslOptions();
        options.ServerOptions.ServerCertificateContext = context;
        options.ServerOptions.ClientCertificateRequired = true;
        options.ServerOptions.EnabledSslProtocols = SslProtocols.Tls13;
        options.ServerOptions.RemoteCertificateValidationCallback = Pinned;
        options.ClientOptions.ClientCertificateContext = context;
        options.ClientOptions.EnabledSslProtocols = SslProtocols.Tls13;
        options.ClientOptions.TargetHost = "tenzro-group";
        options.ClientOptions.RemoteCertificateValidationCallback = Pinned;
        return options;
    }

    /// <summary>Accepts a TLS peer only when its certificate proves the identity of an admitted member.</summary>
    private bool Pinned(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        var id = _start.ProvenId(certificate);
        if (id is not null && Admits(id))
        {
            return true;
        }

        LogRefused(_logger, id is null ? "no identity-bound certificate" : id[..Math.Min(16, id.Length)]);
        return false;
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Group log started on {Endpoint} (cold start: {ColdStart})")]
    private static partial void LogStarted(ILogger logger, string endpoint, bool coldStart);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "Group leader is now {Leader}")]
    private static partial void LogLeader(ILogger logger, string leader);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Warning, Message = "Group log connection refused: {Who} is not an admitted member")]
    private static partial void LogRefused(ILogger logger, string who);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Warning, Message = "Group log did not stop cleanly: {Reason}")]
    private static partial void LogStopFailed(ILogger logger, string reason);
}

/// <summary>Makes <see cref="RaftGroupLog"/>s.</summary>
internal sealed class RaftGroupLogFactory(ILoggerFactory loggers) : IGroupLogFactory
{
    public IGroupLog Create(GroupLogStart start) => new RaftGroupLog(start, loggers);
}
