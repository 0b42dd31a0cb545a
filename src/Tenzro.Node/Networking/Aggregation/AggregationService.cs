using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Aggregation;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Networking.Aggregation.Work;
using Tenzro.Node.Networking.Peers;

namespace Tenzro.Node.Networking.Aggregation;

/// <summary>
/// Aggregation groups (docs/AGGREGATION.md): judges linked peers, runs the propose/accept/finalize exchange over peer
/// links, starts and stops this node's group log, admits new members while it leads, and dissolves a group that
/// has had no leader for AGGREGATION_TIMEOUT.
/// </summary>
/// <remarks>
/// Thread-safe: one loop (<see cref="ExecuteAsync"/>) changes the state; the API reads snapshots under a lock.
/// </remarks>
internal sealed partial class AggregationService : BackgroundService, IAggregationGroup
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan BusyFor = TimeSpan.FromSeconds(10);

    /// <summary>The exclusion reason of a message that claims another node as its author.</summary>
    private const string WrongSender = "wrong_sender";
    private readonly AggregationOptions _options;
    private readonly NetworkOptions _network;
    private readonly NodeIdentity _identity;
    private readonly PeerLinkService _links;
    private readonly PeerTransport _transport;
    private readonly PeerTable _table;
    private readonly GroupInbox _inbox;
    private readonly IGroupLogFactory _factory;
    private readonly Core.Resources.IntakeState _intake;
    private readonly PeerBlocklist _blocklist;
    private readonly GroupLogPort _port;
    private readonly GroupExclusions _exclusions;
    private readonly HashSet<string> _leftFor = new(StringComparer.Ordinal);
    private readonly GroupFiles _files;
    private readonly ReplayGuard _replay;
    private readonly TimeProvider _time;
    private readonly ILogger<AggregationService> _logger;
    private readonly ILogger _security;
    private readonly GroupWork _work;
    private readonly Core.Tasks.TaskEngine _engine;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, DateTimeOffset> _busy = new(StringComparer.Ordinal);
    private readonly System.Threading.Channels.Channel<bool> _wanted =
        System.Threading.Channels.Channel.CreateBounded<bool>(new System.Threading.Channels.BoundedChannelOptions(1) { FullMode = System.Threading.Channels.BoundedChannelFullMode.DropWrite });
    private IGroupLog? _log;
    private Forming? _forming;
    private DateTimeOffset? _leaderlessSince;
    private DateTimeOffset _nextPing;
    private DateTimeOffset _nextLeaveRequest;
    private DateTimeOffset _nextQuery;
    private int _raftPort;

    /// <summary>The last job whose redundancy majority outvoted this node (set from applied states; the node then leaves its group).</summary>
    private volatile string? _selfOutvotedIn;

    public AggregationService(
        AggregationOptions options,
        NetworkOptions network,
        StorageOptions storage,
        NodeIdentity identity,
        PeerLinkService links,
        PeerTransport transport,
        PeerTable table,
        GroupInbox inbox,
        IGroupLogFactory factory,
        Core.Resources.IntakeState intake,
        PeerBlocklist blocklist,
        GroupLogPort port,
        GroupExclusions exclusions,
        GroupWork work,
        Core.Tasks.TaskEngine engine,
        TimeProvider time,
        ILoggerFactory loggers)
    {
        _work = work;
        _engine = engine;
        _options = options;
        _network = network;
        _identity = identity;
        _links = links;
        _transport = transport;
        _table = table;
        _inbox = inbox;
        _factory = factory;
        _intake = intake;
        _blocklist = blocklist;
        _port = port;
        _exclusions = exclusions;
        _time = time;
        _files = new GroupFiles(storage.DataDirectory);
        _replay = new ReplayGuard(time);
        _logger = loggers.CreateLogger<AggregationService>();
        _security = loggers.CreateLogger(Hosting.NodeLogging.SecurityCategory);
    }

    /// <summary>A formation in progress: the proposal this node follows (or made, as founder) and its answers.</summary>
    private sealed record Forming(GroupProposal Proposal, DateTimeOffset Deadline, bool Founder)
    {
        public Dictionary<string, string> Accepted { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Invited { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Answered { get; } = new(StringComparer.Ordinal);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Set even without groups: the runner then says why a split task ran whole.
        _engine.UseSplitRunner(_work);
        if (!_options.Enabled)
        {
            return;
        }

        try
        {
            await ResumeAsync(stoppingToken);
        }
        finally
        {
            _work.Rejoined();
        }
        RaftAddress();
        using var timer = new PeriodicTimer(Tick, _time);
        var reading = _inbox.WaitToReadAsync(stoppingToken).AsTask();
        var ticking = timer.WaitForNextTickAsync(stoppingToken).AsTask();
        var wanted = _wanted.Reader.WaitToReadAsync(stoppingToken).AsTask();
        _work.Wanted += Want;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var done = await Task.WhenAny(reading, ticking, wanted);
                if (done == wanted)
                {
                    await wanted;
                    while (_wanted.Reader.TryRead(out _))
                    {
                    }

                    await Guarded(() => TendWorkAsync(stoppingToken));
                    wanted = _wanted.Reader.WaitToReadAsync(stoppingToken).AsTask();
                }
                else if (done == reading)
                {
                    await reading;
                    while (_inbox.TryRead(out var item))
                    {
                        await Guarded(() => OnMessageAsync(item.Link, item.Message, stoppingToken));
                    }

                    reading = _inbox.WaitToReadAsync(stoppingToken).AsTask();
                }
                else
                {
                    await ticking;
                    await Guarded(() => OnTickAsync(stoppingToken));
                    ticking = timer.WaitForNextTickAsync(stoppingToken).AsTask();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
        finally
        {
            _work.Wanted -= Want;
        }
    }

    /// <summary>Split work asks for a round now (<see cref="GroupWork.Wanted"/>); requests made meanwhile fold into one.</summary>
    private void Want() => _wanted.Writer.TryWrite(true);

    /// <summary>A round of split work only, between ticks.</summary>
    private async Task TendWorkAsync(CancellationToken cancellationToken)
    {
        if (_log is { } log)
        {
            await _work.TendAsync(log, _time.GetUtcNow(), SendWorkAsync, cancellationToken);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_log is { } log)
        {
            await log.DisposeAsync();
        }
    }

    public JsonObject View()
    {
        var log = _log;
        var state = log is null ? (_forming is null ? "none" : "forming") : log.IsLeader ? "leader" : "member";
        var group = log?.State;
        var leader = log?.LeaderId;
        var self = _links.CurrentRecord();
        var members = new JsonArray();
        var pooled = new PooledCapacity();
        foreach (var member in group?.Members ?? [])
        {
            var record = member.Id == _identity.NodeId ? self : _table.Get(member.Id)?.Record;
            var alive = member.Id == _identity.NodeId || _table.Get(member.Id)?.Link == PeerLinkState.Open;
            if (alive && record is not null)
            {
                pooled.Add(record);
            }

            members.Add(new JsonObject
            {
                ["id"] = member.Id,
                ["role"] = member.Id == leader ? "leader" : "follower",
                ["alive"] = alive,
                ["free"] = record?.Content.FreeJson(),
            });
        }

        return new JsonObject
        {
            ["enabled"] = _options.Enabled,
            ["state"] = state,
            ["groupId"] = group?.GroupId is { Length: > 0 } id ? id : _forming?.Proposal.GroupId,
            ["leaderId"] = leader,
            ["members"] = members,
            ["pooled"] = pooled.ToJson(),
            ["jobs"] = _work.Jobs(),
            ["excluded"] = new JsonArray([.. _exclusions.Active().Select(e => (JsonNode)new JsonObject
            {
                ["id"] = e.Id,
                ["reason"] = e.Reason,
                ["until"] = Core.Json.Timestamps.FormatPrecise(e.Until),
            })]),
        };
    }

    public IReadOnlyList<Candidate> Candidates()
    {
        var self = _links.CurrentRecord();
        return [.. _links.Links
            .Where(l => l.Record is not null && !_blocklist.IsBlocked(l.PeerId))
            .Select(l => Eligibility.Judge(self, _table.Get(l.PeerId)?.Record ?? l.Record!, l.MedianRttMs, _options))
            .Select(c => _exclusions.Until(c.Id) is { } until
                ? c with { Warnings = [.. c.Warnings, $"excluded from this node's groups until {Core.Json.Timestamps.FormatPrecise(until)} (see GET /api/aggregation excluded)"] }
                : c)
            .OrderBy(c => c.Id, StringComparer.Ordinal)];
    }

    public JsonObject? LeaderStatus()
    {
        if (_log is not { IsLeader: true } log)
        {
            return null;
        }

        var view = View();
        return new JsonObject
        {
            ["groupId"] = log.State.GroupId,
            ["members"] = log.State.Members.Count,
            ["pooled"] = view["pooled"]?.DeepClone(),
        };
    }

    private async Task Guarded(Func<Task> step)
    {
        try
        {
            await step();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogStepFailed(_logger, e.Message);
        }
    }

    /// <summary>A member that restarts rejoins its group from the saved state.</summary>
    private async Task ResumeAsync(CancellationToken cancellationToken)
    {
        if (_files.Load() is not { } saved || saved.Self.Id != _identity.NodeId)
        {
            return;
        }

        _raftPort = saved.Self.EndPoint.Port;
        LogResuming(_logger, saved.Known.GroupId);
        await StartLogAsync(saved.Self, saved.Known, coldStart: false, cancellationToken);
    }

    private async Task OnTickAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        PingCandidates(now, cancellationToken);
        if (_log is { } log)
        {
            await TendGroupAsync(log, now, cancellationToken);
            if (_log is { } still)
            {
                await _work.TendAsync(still, now, SendWorkAsync, cancellationToken);
            }

            return;
        }

        if (_forming is { } forming)
        {
            if (forming.Founder && (forming.Answered.IsSupersetOf(forming.Invited) || now >= forming.Deadline))
            {
                await FinishFoundingAsync(forming, cancellationToken);
            }
            else if (now >= forming.Deadline)
            {
                LogFormationExpired(_logger, forming.Proposal.GroupId);
                _forming = null;
            }

            return;
        }

        // Without a link there is no one to form a group with, and no need to build this node's record to know it.
        if (_links.OpenLinks == 0 || !SelfEligible())
        {
            return;
        }

        var eligible = EligiblePeers(now);
        if (eligible.Count + 1 < _options.Threshold || Formation.Founder(eligible.Append(_identity.NodeId)) != _identity.NodeId)
        {
            return;
        }

        var proposal = new GroupProposal(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)), _identity.NodeId, Existing: false);
        var founding = new Forming(proposal, now + FormationWindow(), Founder: true);
        foreach (var peer in Formation.Invitees(_identity.NodeId, eligible))
        {
            founding.Invited.Add(peer);
        }

        _forming = founding;
        LogProposing(_logger, proposal.GroupId, founding.Invited.Count);
        await SendAllAsync(founding.Invited, GroupMessages.Propose(proposal, _replay, _identity), cancellationToken);
    }

    /// <summary>Peers with an open link that pass every criterion and did not decline lately.</summary>
    private List<string> EligiblePeers(DateTimeOffset now)
    {
        lock (_lock)
        {
            foreach (var stale in _busy.Where(b => b.Value <= now).Select(b => b.Key).ToList())
            {
                _busy.Remove(stale);
            }

            return [.. Candidates().Where(c => c.Eligible && !_busy.ContainsKey(c.Id) && !_exclusions.IsExcluded(c.Id)).Select(c => c.Id)];
        }
    }

    /// <summary>Time a founder waits for answers, and a follower for the finalize: a fifth of AGGREGATION_TIMEOUT, 2 to 10 s.</summary>
    private TimeSpan FormationWindow() =>
        TimeSpan.FromMilliseconds(Math.Clamp(_options.Timeout.TotalMilliseconds / 5, 2000, 10_000));

    private async Task FinishFoundingAsync(Forming forming, CancellationToken cancellationToken)
    {
        _forming = null;
        if (forming.Accepted.Count + 1 < _options.Threshold)
        {
            LogTooFewAccepted(_logger, forming.Proposal.GroupId, forming.Accepted.Count + 1, _options.Threshold);
            return;
        }

        var self = new GroupMember(_identity.NodeId, RaftAddress());
        var known = new GroupState(forming.Proposal.GroupId, [.. forming.Accepted.Select(a => new GroupMember(a.Key, a.Value)).Append(self).OrderBy(m => m.Id, StringComparer.Ordinal)]);
        var log = await StartLogAsync(self, known, coldStart: true, cancellationToken);
        await SendAllAsync(forming.Accepted.Keys, GroupMessages.Finalize(known, _replay, _identity), cancellationToken);
        await WaitForLeadershipAsync(log, cancellationToken);
        await log.PublishAsync(known, cancellationToken);
        foreach (var member in known.Members.Where(m => m.Id != _identity.NodeId))
        {
            await AddMemberAsync(log, member, cancellationToken);
        }
    }

    private async Task WaitForLeadershipAsync(IGroupLog log, CancellationToken cancellationToken)
    {
        var until = _time.GetUtcNow() + _options.Timeout;
        while (!log.IsLeader && _time.GetUtcNow() < until)
        {
            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>
    /// Adds <paramref name="member"/> to the log, retrying for the formation window: the member starts its log when the
    /// finalize reaches it, which may be after the first try.
    /// </summary>
    private async Task AddMemberAsync(IGroupLog log, GroupMember member, CancellationToken cancellationToken)
    {
        var until = _time.GetUtcNow() + FormationWindow();
        while (true)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(FormationWindow());
                await log.AddMemberAsync(member, timeout.Token);
                LogMemberAdded(_logger, NodeRecord.Short(member.Id), member.Raft);
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                if (_time.GetUtcNow() >= until || !log.IsLeader)
                {
                    LogAddFailed(_logger, NodeRecord.Short(member.Id), $"{e.Message} (leader: {log.IsLeader})");
                    return;
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), _time, cancellationToken);
        }
    }

    private async Task<IGroupLog> StartLogAsync(GroupMember self, GroupState known, bool coldStart, CancellationToken cancellationToken)
    {
        _files.Save(self, known);
        var log = _factory.Create(new GroupLogStart
        {
            Directory = _files.LogDirectory,
            Self = self,
            ListenHost = _network.P2pHost,
            Known = known,
            ColdStart = coldStart,
            ElectionTimeout = _options.ElectionTimeout,
            Certificate = _transport.Certificate,
            ProvenId = ProvenId,
        });
        log.Changed += Outvote;
        try
        {
            await log.StartAsync(cancellationToken);
        }
        catch
        {
            log.Changed -= Outvote;
            await log.DisposeAsync();
            throw;
        }

        _log = log;
        _work.Log = log;
        _port.Bound = log.Port;
        _leaderlessSince = null;
        LogJoined(_logger, known.GroupId, self.Raft, coldStart);
        return log;
    }

    private string? ProvenId(System.Security.Cryptography.X509Certificates.X509Certificate? certificate) =>
        PeerCertificate.ProvenKey(certificate, _time.GetUtcNow(), out _) is { } key ? DomainSignature.NodeIdOf(key) : null;

    private bool SelfEligible() => !_intake.Draining && Eligibility.SelfEligible(_links.CurrentRecord(), _options);

    /// <summary>
    /// A draining member stands aside first (a leader hands over its leadership, and no member that drains is elected),
    /// then asks the leader to remove it; the leader's <c>removed</c> answer ends its membership.
    /// </summary>
    private async Task DrainAsync(IGroupLog log, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!log.StandingAside)
        {
            var leading = log.IsLeader;
            if (await log.StandAsideAsync(cancellationToken) && leading)
            {
                LogHandingOver(_logger, log.State.GroupId);
            }
        }

        if (now < _nextLeaveRequest)
        {
            return;
        }

        _nextLeaveRequest = now + TimeSpan.FromSeconds(1);
        if (log.LeaderId is { } leader && leader != _identity.NodeId)
        {
            await SendAsync(leader, GroupMessages.Leave(log.State.GroupId, _replay, _identity), cancellationToken);
        }
        else if (log.LeaderId is null)
        {
            // No leader known (an election, or this node was removed and its answer lost): ask every member; the leader answers.
            var others = log.State.Members.Select(m => m.Id).Where(id => id != _identity.NodeId);
            await SendAllAsync(others, GroupMessages.Leave(log.State.GroupId, _replay, _identity), cancellationToken);
        }
    }

    /// <summary>In a group: dissolve after AGGREGATION_TIMEOUT without a leader; as the leader, admit eligible peers while there is room.</summary>
    private async Task TendGroupAsync(IGroupLog log, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (_intake.Draining)
        {
            await DrainAsync(log, now, cancellationToken);
        }
        else if (log.StandingAside && await log.StandAgainAsync(cancellationToken))
        {
            // Resumed before the leader removed it: a member like the others again.
            LogStandingAgain(_logger, log.State.GroupId);
        }

        if (_selfOutvotedIn is { } job && _leftFor.Add(job))
        {
            // The other members have excluded this node and their leader removes it: it stops its log now rather than
            // wait for that. A leader that only resigned was at times still followed by the others, so none removed it.
            LogOutvotedLeaving(_logger, log.State.GroupId, job);
            await LeaveAsync(log);
            return;
        }

        if (log.LeaderId is null)
        {
            _leaderlessSince ??= now;
            if (now - _leaderlessSince >= _options.Timeout)
            {
                LogDissolved(_logger, log.State.GroupId, _options.Timeout.TotalSeconds);
                await LeaveAsync(log);
            }
            else if (now - _leaderlessSince >= Membership.QueryAfter(_options.ElectionTimeout) && now >= _nextQuery)
            {
                // Raft does not tell a removed member: ask the others whether this node is still in the group.
                _nextQuery = now + TimeSpan.FromSeconds(1);
                var others = log.State.Members.Select(m => m.Id).Where(id => id != _identity.NodeId);
                await SendAllAsync(others, GroupMessages.Query(log.State.GroupId, _replay, _identity), cancellationToken);
            }

            return;
        }

        _leaderlessSince = null;
        if (log.IsLeader && log.State.Members.FirstOrDefault(m => m.Id != _identity.NodeId && (_blocklist.IsBlocked(m.Id) || _exclusions.IsExcluded(m.Id))) is { } unwanted)
        {
            LogMemberLeft(_logger, NodeRecord.Short(unwanted.Id), log.State.GroupId);
            await log.RemoveMemberAsync(unwanted.Id, cancellationToken);
            await SendAsync(unwanted.Id, GroupMessages.Removed(log.State.GroupId, _replay, _identity), cancellationToken);
            return;
        }

        if (!log.IsLeader || log.State.Members.Count >= Formation.MaxMembers || _forming is not null)
        {
            return;
        }

        var outside = EligiblePeers(now).Where(id => log.State.Find(id) is null).Order(StringComparer.Ordinal).FirstOrDefault();
        if (outside is null)
        {
            return;
        }

        var proposal = new GroupProposal(log.State.GroupId, _identity.NodeId, Existing: true);
        var joining = new Forming(proposal, now + FormationWindow(), Founder: true);
        joining.Invited.Add(outside);
        _forming = joining;
        await SendAllAsync([outside], GroupMessages.Propose(proposal, _replay, _identity), cancellationToken);
    }


    /// <summary>Counts an invalid group message from <paramref name="peerId"/> (docs/AGGREGATION.md "Exclusion").</summary>
    private void Misbehaved(string peerId, string reason)
    {
        if (_exclusions.Misbehaved(peerId, reason) is { } excluded)
        {
            LogExcluded(_security, NodeRecord.Short(peerId), excluded.Reason, excluded.Until);
        }
    }

    /// <summary>
    /// Excludes the members a job's redundancy majority outvoted, from every applied state: the mark lasts only while its
    /// job is in the state, which its home may finish in the next entry.
    /// </summary>
    private void Outvote(GroupState state)
    {
        foreach (var outvoted in _exclusions.Outvote(state, _identity.NodeId))
        {
            LogExcluded(_security, NodeRecord.Short(outvoted.Id), outvoted.Reason, outvoted.Until);
        }

        if (state.Jobs.FirstOrDefault(j => j.Disagreed.Contains(_identity.NodeId))?.ParentId is { } job)
        {
            _selfOutvotedIn = job;
        }
    }

    private async Task LeaveAsync(IGroupLog log)
    {
        log.Changed -= Outvote;
        _log = null;
        _work.Log = null;
        _port.Bound = 0;
        _forming = null;
        await log.DisposeAsync();
        _files.Delete();
    }

    private async Task OnMessageAsync(PeerLink link, JsonObject message, CancellationToken cancellationToken)
    {
        if (link.Record is not { } record)
        {
            return;
        }

        if (_replay.Check(message, SignatureDomain.Group, record.PublicKey) is { } refusal)
        {
            LogRefused(_security, NodeRecord.Short(link.PeerId), refusal.Reason, refusal.Detail);
            Misbehaved(link.PeerId, refusal.Reason);
            return;
        }

        var groupId = GroupMessages.Text(message, "groupId") ?? string.Empty;
        switch (GroupMessages.Text(message, "step"))
        {
            case GroupStep.Propose:
                await OnProposeAsync(link, message, groupId, cancellationToken);
                break;
            case GroupStep.Accept:
                await OnAcceptAsync(link, message, groupId, cancellationToken);
                break;
            case GroupStep.Decline:
                OnDecline(link, message, groupId);
                break;
            case GroupStep.Finalize:
                await OnFinalizeAsync(link, message, groupId, cancellationToken);
                break;
            case GroupStep.Leave:
                await OnLeaveAsync(link, groupId, cancellationToken);
                break;
            case GroupStep.Removed:
                await OnRemovedAsync(link, groupId);
                break;
            case GroupStep.Query:
                await OnQueryAsync(link, groupId, cancellationToken);
                break;
            case GroupStep.Roster:
                await OnRosterAsync(link, message);
                break;
            case null:
                Misbehaved(link.PeerId, P2pRejection.Malformed);
                break;
            case var step when step is not null && GroupWork.Steps.All.Contains(step) && _log is { } log && log.State.GroupId == groupId:
                await _work.OnMessageAsync(log, link.PeerId, message, cancellationToken);
                break;
            default:
                break;
        }
    }

    private async Task OnProposeAsync(PeerLink link, JsonObject message, string groupId, CancellationToken cancellationToken)
    {
        var founder = GroupMessages.Text(message, "founder");
        var existing = message["existing"] is JsonValue v && v.TryGetValue<bool>(out var e) && e;
        string? reason = null;
        var judged = Candidates().FirstOrDefault(c => c.Id == link.PeerId);
        if (founder != link.PeerId)
        {
            reason = "the proposal's founder is not its sender";
            Misbehaved(link.PeerId, WrongSender);
        }
        else if (_exclusions.IsExcluded(link.PeerId))
        {
            reason = "the proposer is excluded from this node's groups until " + Core.Json.Timestamps.FormatPrecise(_exclusions.Until(link.PeerId) ?? _time.GetUtcNow());
        }
        else if (_log is { } log)
        {
            reason = "already in group " + log.State.GroupId;
        }
        else if (!SelfEligible())
        {
            reason = _intake.Draining ? "this node is draining" : "this node is not eligible (tier or free resources)";
        }
        else if (judged is not { Eligible: true })
        {
            reason = "the proposer is not eligible here: " + string.Join(", ", judged?.Failed ?? ["no record"]);
        }

        var proposal = new GroupProposal(groupId, link.PeerId, existing);
        if (reason is null && _forming is { } current && !Formation.Prefers(proposal, current.Proposal))
        {
            reason = $"following the proposal of {NodeRecord.Short(current.Proposal.Founder)}";
        }

        if (reason is not null)
        {
            await SendAsync(link.PeerId, GroupMessages.Decline(groupId, reason, _replay, _identity), cancellationToken);
            return;
        }

        _forming = new Forming(proposal, _time.GetUtcNow() + FormationWindow() + FormationWindow(), Founder: false);
        LogAccepting(_logger, groupId, NodeRecord.Short(link.PeerId));
        await SendAsync(link.PeerId, GroupMessages.Accept(groupId, RaftAddress(), _replay, _identity), cancellationToken);
    }

    private async Task OnAcceptAsync(PeerLink link, JsonObject message, string groupId, CancellationToken cancellationToken)
    {
        if (_forming is not { Founder: true } forming || forming.Proposal.GroupId != groupId || !forming.Invited.Contains(link.PeerId)
            || GroupMessages.Text(message, "raft") is not { } raft || !IPEndPoint.TryParse(raft, out _))
        {
            return;
        }

        forming.Answered.Add(link.PeerId);
        forming.Accepted[link.PeerId] = raft;
        if (forming.Proposal.Existing && _log is { IsLeader: true } log)
        {
            _forming = null;
            var member = new GroupMember(link.PeerId, raft);
            var known = log.State.With(member);
            await SendAsync(link.PeerId, GroupMessages.Finalize(known, _replay, _identity), cancellationToken);
            await AddMemberAsync(log, member, cancellationToken);
        }
    }

    private void OnDecline(PeerLink link, JsonObject message, string groupId)
    {
        LogDeclined(_logger, NodeRecord.Short(link.PeerId), groupId, GroupMessages.Text(message, "reason") ?? "no reason");
        lock (_lock)
        {
            _busy[link.PeerId] = _time.GetUtcNow() + BusyFor;
        }

        if (_forming is { Founder: true } forming && forming.Proposal.GroupId == groupId)
        {
            forming.Answered.Add(link.PeerId);
            if (forming.Proposal.Existing)
            {
                _forming = null;
            }
        }
    }

    private async Task OnFinalizeAsync(PeerLink link, JsonObject message, string groupId, CancellationToken cancellationToken)
    {
        if (_log is not null || _forming is not { Founder: false } forming || forming.Proposal.GroupId != groupId || forming.Proposal.Founder != link.PeerId
            || GroupMessages.FinalizedState(message) is not { } known || known.Find(_identity.NodeId) is not { } self)
        {
            return;
        }

        _forming = null;
        await StartLogAsync(self, known, coldStart: false, cancellationToken);
    }

    /// <summary>
    /// The leader removes a member that asks to leave (draining), then tells it; a member already removed that asks
    /// again (the first answer was lost) is told again.
    /// </summary>
    private async Task OnLeaveAsync(PeerLink link, string groupId, CancellationToken cancellationToken)
    {
        if (_log is not { IsLeader: true } log || log.State.GroupId != groupId)
        {
            return;
        }

        if (log.State.Find(link.PeerId) is not null)
        {
            await log.RemoveMemberAsync(link.PeerId, cancellationToken);
            LogMemberLeft(_logger, NodeRecord.Short(link.PeerId), groupId);
        }

        await SendAsync(link.PeerId, GroupMessages.Removed(groupId, _replay, _identity), cancellationToken);
    }

    /// <summary>
    /// Ends this node's membership when the leader says it was removed. While draining (this node asked to leave), the
    /// answer is taken from any member of the group: once removed, this node may no longer know who leads.
    /// </summary>
    private async Task OnRemovedAsync(PeerLink link, string groupId)
    {
        if (_log is { } log && log.State.GroupId == groupId
            && (log.LeaderId == link.PeerId || (_intake.Draining && log.State.Find(link.PeerId) is not null)))
        {
            LogLeft(_logger, groupId);
            await LeaveAsync(log);
        }
    }

    /// <summary>A member with a leader answers a <c>query</c> about its group with the members its log committed.</summary>
    private async Task OnQueryAsync(PeerLink link, string groupId, CancellationToken cancellationToken)
    {
        if (_log is { } log && log.State.GroupId == groupId && log.LeaderId is { } leader)
        {
            await SendAsync(link.PeerId, GroupMessages.Roster(log.State, leader, _replay, _identity), cancellationToken);
        }
    }

    /// <summary>Ends this node's membership when a member that follows a leader answers with members that leave this node out.</summary>
    private async Task OnRosterAsync(PeerLink link, JsonObject message)
    {
        if (_log is { } log && GroupMessages.FinalizedState(message) is { } answered
            && Membership.Removed(log.State, _identity.NodeId, link.PeerId, answered, GroupMessages.Text(message, "leaderId")))
        {
            LogRemovedSeen(_logger, log.State.GroupId, NodeRecord.Short(link.PeerId));
            await LeaveAsync(log);
        }
    }

    /// <summary>This node's group log address: the host peers dial (P2P_HOST, or the first advertised address) and RAFT_PORT (0: a free port, kept once picked).</summary>
    private string RaftAddress()
    {
        var host = IPAddress.Parse(_network.P2pHost);
        if (host.Equals(IPAddress.Any) || host.Equals(IPAddress.IPv6Any))
        {
            host = _links.CurrentRecord().Content.Addresses.Select(a => IPEndPoint.TryParse(a, out var ep) ? ep.Address : null).FirstOrDefault(a => a is not null) ?? IPAddress.Loopback;
        }

        if (_raftPort == 0)
        {
            _raftPort = _network.RaftPort != 0 ? _network.RaftPort : FreePort(IPAddress.Parse(_network.P2pHost));
        }

        _port.Port = _raftPort;

        return new IPEndPoint(host, _raftPort).ToString();
    }

    private static int FreePort(IPAddress address)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(address, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>
    /// Pings every linked peer that passes the criteria other than proximity every two seconds, while this node could
    /// join a group, so that proximity is judged on five fresh round trips rather than on the hello alone. Other links
    /// keep the peer links' own pace (CONTRACTS: every 15 s).
    /// </summary>
    private void PingCandidates(DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (now < _nextPing || _links.OpenLinks == 0 || !SelfEligible())
        {
            return;
        }

        _nextPing = now + TimeSpan.FromSeconds(2);
        var self = _links.CurrentRecord();
        foreach (var link in _links.Links)
        {
            var record = _table.Get(link.PeerId)?.Record ?? link.Record;
            if (record is not null && Eligibility.Judge(self, record, 0, _options).Failed.All(f => f == Eligibility.Proximity))
            {
                _ = PingAsync(link, cancellationToken);
            }
        }
    }

    private static async Task PingAsync(PeerLink link, CancellationToken cancellationToken)
    {
        try
        {
            await link.PingAsync(cancellationToken);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or System.Net.WebSockets.WebSocketException or ObjectDisposedException)
        {
            // The link ends by itself; eligibility sees it gone.
        }
    }

    private Task SendWorkAsync(string peerId, JsonObject message, CancellationToken cancellationToken)
    {
        message["groupId"] = _log?.State.GroupId;
        return SendAsync(peerId, GroupMessages.Work(message, _replay, _identity), cancellationToken);
    }

    private async Task SendAllAsync(IEnumerable<string> peers, JsonObject message, CancellationToken cancellationToken)
    {
        foreach (var peer in peers)
        {
            await SendAsync(peer, message, cancellationToken);
        }
    }

    private async Task SendAsync(string peerId, JsonObject message, CancellationToken cancellationToken)
    {
        var link = _links.Links.FirstOrDefault(l => l.PeerId == peerId);
        if (link is null)
        {
            return;
        }

        try
        {
            await link.SendAsync(message, cancellationToken);
        }
        catch (Exception e) when (e is IOException or System.Net.WebSockets.WebSocketException or ObjectDisposedException)
        {
            LogSendFailed(_logger, NodeRecord.Short(peerId), e.Message);
        }
    }
}
