using System.Text;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Aggregation;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Networking.Aggregation.Work;

/// <summary>The group-state side: the leader's round and messages, and the member's runs of its parts.</summary>
internal sealed partial class GroupWork
{
    /// <summary>Steps of the <c>group</c> messages about work (member to leader).</summary>
    public static class Steps
    {
        /// <summary>A home registers a split task: <c>parentId</c>, <c>taskType</c>, <c>owner</c>, <c>redundancy</c>, <c>parts</c> (payload sha256s).</summary>
        public const string Job = "job";

        /// <summary>A member reports a run: <c>parentId</c>, <c>index</c>, <c>ok</c>, <c>digest</c>, <c>result</c>, <c>durationMs</c>, <c>error</c>.</summary>
        public const string Report = "report";

        /// <summary>A home could not fetch a winning result for a lease: <c>parentId</c>, <c>index</c>, <c>member</c>.</summary>
        public const string Lost = "lost";

        /// <summary>A home is done with a job (combined, failed or cancelled): <c>parentId</c>.</summary>
        public const string Finished = "finished";

        public static readonly string[] All = [Job, Report, Lost, Finished];
    }

    /// <summary>
    /// One round on the aggregation loop: as leader, apply this node's own requests and plan; otherwise send them to
    /// the leader (every second until the state shows them); as member, start the parts assigned here and stop those
    /// whose job is gone.
    /// </summary>
    /// <param name="send">Signs and sends a <c>group</c> message to a peer.</param>
    public async Task TendAsync(IGroupLog log, DateTimeOffset now, Func<string, JsonObject, CancellationToken, Task> send, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(send);
        Log = log;
        var state = log.State;
        var requests = Requests(state);
        if (log.IsLeader)
        {
            var next = Plan(requests.Aggregate(state, (s, r) => Apply(s, _identity.NodeId, r)), now);
            if (!ReferenceEquals(next, state))
            {
                await log.PublishAsync(next, cancellationToken);
            }
        }
        else if (log.LeaderId is { } leader)
        {
            // A new request goes at once; one the state does not show yet goes again every second.
            var due = requests.Where(r => !_sentAt.TryGetValue(Key(r), out var sent) || now - sent >= ResendEvery).ToList();
            foreach (var request in due)
            {
                _sentAt[Key(request)] = now;
                await send(leader, request, cancellationToken);
            }

            foreach (var stale in _sentAt.Keys.Except(requests.Select(Key)).ToList())
            {
                _sentAt.Remove(stale);
            }
        }

        RunAssignedParts(log.State);
        Forget(log.State);
        DropStaleParts(log.State);
    }

    /// <summary>What identifies a request between rounds: its step, job and part.</summary>
    private static string Key(JsonObject request) =>
        $"{GroupMessages.Text(request, "step")}/{GroupMessages.Text(request, "parentId")}/{request["index"]?.ToJsonString()}";

    /// <summary>A <c>group</c> message about work, arriving at the leader from member <paramref name="sender"/>.</summary>
    public async Task OnMessageAsync(IGroupLog log, string sender, JsonObject message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(log);
        if (!log.IsLeader || log.State.Find(sender) is null)
        {
            return;
        }

        // Planned in the same entry: a job is assigned on its registration, and a member's next part on its report.
        var next = Apply(log.State, sender, message);
        if (!ReferenceEquals(next, log.State))
        {
            await log.PublishAsync(Plan(next, _time.GetUtcNow()), cancellationToken);
        }
    }

    /// <summary>The leader's planning round over <paramref name="state"/> (<see cref="JobPlanner.Plan"/>), counting the runs it expired.</summary>
    private GroupState Plan(GroupState state, DateTimeOffset now)
    {
        var before = Expired(state);
        var (slots, speeds) = Capacities(state);
        var next = JobPlanner.Plan(state, now, _options.Lease, slots, speeds);
        _metrics.Expired(Expired(next) - before);
        return next;
    }

    /// <summary>What this node still asks of the leader: jobs to register, reports, lost results, finished jobs.</summary>
    private List<JsonObject> Requests(GroupState state)
    {
        var requests = new List<JsonObject>();
        foreach (var (parentId, home) in _homeJobs)
        {
            var job = state.Job(parentId);
            if (home.Finished)
            {
                if (job is null)
                {
                    _homeJobs.TryRemove(parentId, out _);
                }
                else
                {
                    requests.Add(new JsonObject { ["step"] = Steps.Finished, ["parentId"] = parentId });
                }

                continue;
            }

            if (job is null)
            {
                requests.Add(new JsonObject
                {
                    ["step"] = Steps.Job,
                    ["parentId"] = parentId,
                    ["taskType"] = home.Job.Type,
                    ["owner"] = home.Job.Owner,
                    ["redundancy"] = home.Job.Redundancy,
                    ["parts"] = new JsonArray([.. home.Job.Parts.Select(p => (JsonNode)p.Payload)]),
                });
                continue;
            }

            foreach (var (index, member) in home.Lost)
            {
                if (job.Parts.FirstOrDefault(p => p.Index == index)?.Runs.Any(r => r.Member == member && r.State == RunState.Done) == true)
                {
                    requests.Add(new JsonObject { ["step"] = Steps.Lost, ["parentId"] = parentId, ["index"] = index, ["member"] = member });
                }
            }
        }

        foreach (var run in _localRuns.Values)
        {
            if (run.Report is { } report && Latest(state, run.ParentId, run.Index, _identity.NodeId)?.State is RunState.Running or RunState.Expired)
            {
                requests.Add(new JsonObject
                {
                    ["step"] = Steps.Report,
                    ["parentId"] = run.ParentId,
                    ["index"] = run.Index,
                    ["ok"] = report.Succeeded,
                    ["digest"] = report.Digest,
                    ["result"] = report.Result,
                    ["durationMs"] = report.DurationMs,
                    ["error"] = report.Error,
                });
            }
        }

        return requests;
    }

    /// <summary>Applies one request from <paramref name="sender"/> to the state (the leader only).</summary>
    private GroupState Apply(GroupState state, string sender, JsonObject message)
    {
        var parentId = GroupMessages.Text(message, "parentId");
        if (parentId is null)
        {
            return state;
        }

        var index = message["index"] is JsonValue i && i.TryGetValue<int>(out var n) ? n : -1;
        switch (GroupMessages.Text(message, "step"))
        {
            case Steps.Job when message["parts"] is JsonArray payloads && payloads.Count is > 0 and <= Core.Aggregation.Split.SplitRequest.MaxParts:
                var parts = payloads.Select((p, k) => new SplitPart(k, p is JsonValue v && v.TryGetValue<string>(out var sha) && GroupBlobs.IsHash(sha) ? sha : string.Empty, [])).ToList();
                var redundancy = message["redundancy"] is JsonValue r && r.TryGetValue<int>(out var rr) ? Math.Clamp(rr, 1, Core.Aggregation.Split.SplitRequest.MaxRedundancy) : 1;
                if (parts.Any(p => p.Payload.Length == 0) || GroupMessages.Text(message, "taskType") is not { } type)
                {
                    return state;
                }

                LogJobAdded(_logger, parentId, parts.Count, NodeRecord.Short(sender));
                return JobPlanner.AddJob(state, new SplitJob(parentId, sender, type, GroupMessages.Text(message, "owner") ?? TaskOwners.Group, redundancy, parts, []));
            case Steps.Report when index >= 0:
                var ok = message["ok"] is JsonValue okValue && okValue.TryGetValue<bool>(out var b) && b;
                var duration = message["durationMs"] is JsonValue d && d.TryGetValue<long>(out var ms) ? ms : (long?)null;
                var digest = GroupMessages.Text(message, "digest");
                var result = GroupMessages.Text(message, "result");
                if (ok && (!GroupBlobs.IsHash(digest) || !GroupBlobs.IsHash(result)))
                {
                    return state;
                }

                var reported = JobPlanner.Report(state, parentId, index, sender, new PartReport(ok, digest, result, duration, GroupMessages.Text(message, "error")));
                if (!ReferenceEquals(reported, state))
                {
                    _metrics.Part(ok ? "completed" : "failed");
                }

                return reported;
            case Steps.Lost when index >= 0 && state.Job(parentId)?.Home == sender && GroupMessages.Text(message, "member") is { } member:
                return JobPlanner.Lose(state, parentId, index, member);
            case Steps.Finished when state.Job(parentId)?.Home == sender:
                LogJobRemoved(_logger, parentId);
                return JobPlanner.RemoveJob(state, parentId);
            default:
                return state;
        }
    }

    /// <summary>
    /// The live members (this node, and members with an open link), the parts each runs at once (its free whole cores, 1
    /// to 8; the planner adds a part ahead) and the speed of each that announces one (<c>free.cpuOpsPerSecond</c>).
    /// </summary>
    private (Dictionary<string, int> Slots, Dictionary<string, long> Speeds) Capacities(GroupState state)
    {
        var slots = new Dictionary<string, int>(StringComparer.Ordinal);
        var speeds = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var member in state.Members)
        {
            var self = member.Id == _identity.NodeId;
            var entry = _table.Get(member.Id);
            if (!self && entry?.Link != PeerLinkState.Open)
            {
                continue;
            }

            var record = self ? _links.CurrentRecord() : entry?.Record;
            slots[member.Id] = Math.Clamp((int)Math.Floor(record?.Content.Free.Cpu ?? 1), 1, 8);
            if (record?.Content.FreeCpuOpsPerSecond is { } ops)
            {
                speeds[member.Id] = ops;
            }
        }

        return (slots, speeds);
    }

    private static int Expired(GroupState state) => state.Jobs.Sum(j => j.Parts.Sum(p => p.Runs.Count(r => r.State == RunState.Expired)));

    private static PartRun? Latest(GroupState state, string parentId, int index, string member) =>
        state.Job(parentId)?.Parts.FirstOrDefault(p => p.Index == index)?.Runs.LastOrDefault(r => r.Member == member);

    /// <summary>Starts each part assigned to this node that it is not running yet.</summary>
    private void RunAssignedParts(GroupState state)
    {
        foreach (var job in state.Jobs)
        {
            foreach (var part in job.Parts)
            {
                var partId = SplitJob.PartId(job.ParentId, part.Index);
                if (part.Runs.LastOrDefault(r => r.Member == _identity.NodeId) is not { State: RunState.Running } || _localRuns.ContainsKey(partId))
                {
                    continue;
                }

                var run = new LocalRun(job.ParentId, part.Index);
                if (_localRuns.TryAdd(partId, run))
                {
                    _ = RunPartAsync(job, part, run);
                }
            }
        }
    }

    /// <summary>Drops local runs whose report the state shows, and cancels those whose job is gone.</summary>
    private void Forget(GroupState state)
    {
        foreach (var (partId, run) in _localRuns)
        {
            var latest = Latest(state, run.ParentId, run.Index, _identity.NodeId);
            if (state.Job(run.ParentId) is null || latest is null)
            {
                run.Stop.Cancel();
                _localRuns.TryRemove(partId, out _);
                _ = _engine.CancelAsync(partId);
            }
            else if (run.Report is not null && latest.State is RunState.Done or RunState.Failed)
            {
                _localRuns.TryRemove(partId, out _);
            }
        }
    }

    /// <summary>
    /// Cancels the parts left in this node's queue by a run of it that lapsed while the node was away (it restarted, and
    /// its queue requeued the part): the part went to another member, and without its run here nothing would report it.
    /// </summary>
    private void DropStaleParts(GroupState state)
    {
        foreach (var job in state.Jobs)
        {
            foreach (var part in job.Parts)
            {
                var partId = SplitJob.PartId(job.ParentId, part.Index);
                if (part.Runs.LastOrDefault(r => r.Member == _identity.NodeId) is not { State: RunState.Expired }
                    || _localRuns.ContainsKey(partId) || !_staleChecked.Add(partId))
                {
                    continue;
                }

                if (_engine.Get(partId) is { } record && !record.State.IsFinal() && record.Spec.Origin == TaskOrigins.Group)
                {
                    LogStalePart(_logger, partId);
                    _ = _engine.CancelAsync(partId);
                }
            }
        }

        _staleChecked.RemoveWhere(id => state.Job(id[..id.LastIndexOf('.')]) is null);
    }

    /// <summary>
    /// Runs one assigned part: fetches its payload from the home, submits it to this node's queue as
    /// <c>&lt;parentId&gt;.&lt;n&gt;</c> (a part submitted before, by an earlier run here, is the same task), waits for it
    /// to end, keeps its result as a blob and asks for a round at once to report it.
    /// </summary>
    private async Task RunPartAsync(SplitJob job, SplitPart part, LocalRun run)
    {
        var partId = SplitJob.PartId(job.ParentId, part.Index);
        var started = _time.GetUtcNow();
        try
        {
            var payload = await FetchPayloadAsync(job, part, run.Stop.Token);
            var body = JsonNode.Parse(payload)!.AsObject();
            body["taskId"] = partId;
            await FetchModelAsync(job, body, run.Stop.Token);
            var outcome = await _admission.AdmitAsync(body, new TaskSubmitter(TaskOrigins.Group, "group:" + NodeRecord.Short(job.Home), job.Owner));
            if (outcome.Status is not (AdmissionStatus.Accepted or AdmissionStatus.Existing))
            {
                run.Report = new PartReport(false, null, null, 0, $"refused by {NodeRecord.Short(_identity.NodeId)}: {outcome.Reason}");
                return;
            }

            LogPartStarted(_logger, partId);
            TaskRecord? record;
            while ((record = await _engine.WaitAsync(partId, ResendEvery, run.Stop.Token)) is null || !record.State.IsFinal())
            {
                if (record is null)
                {
                    await Task.Delay(PollEvery, _time, run.Stop.Token);
                }
            }

            var duration = (long)((record.FinishedAt ?? _time.GetUtcNow()) - (record.StartedAt ?? started)).TotalMilliseconds;
            if (record.State != TaskState.Completed || record.Result is null || record.Digest is null)
            {
                run.Report = new PartReport(false, null, null, duration, $"{record.State.ToWire()} on {NodeRecord.Short(_identity.NodeId)}: {record.Error}");
                return;
            }

            var (text, digest) = (record.Result, record.Digest);
            if (_faultSwitch is not null && File.Exists(_faultSwitch) && JsonNode.Parse(text) is JsonObject altered)
            {
                altered["fault"] = "wrong result from the test switch";
                (text, digest) = (altered.ToJsonString(), Core.Json.CanonicalJson.Digest(altered));
            }

            run.Report = new PartReport(true, digest, _blobs.Put(Encoding.UTF8.GetBytes(text)), duration, null);
        }
        catch (OperationCanceledException) when (run.Stop.IsCancellationRequested)
        {
            // The job is gone (finished or cancelled by its home).
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException or InvalidOperationException)
        {
            // The payload could not be had (the home is gone, or its copy of the group state is a moment behind and
            // refused): the next round tries again, and while the home stays away the run's lease decides.
            LogPartFailed(_logger, partId, e.Message);
            _localRuns.TryRemove(partId, out _);
        }
        finally
        {
            if (run.Report is not null)
            {
                // The report goes to the leader at once, not at the next tick.
                Wanted?.Invoke();
            }
        }
    }

    /// <summary>An inference part's model, fetched from the home (<c>blob_get</c>) and added to this node's catalog when it is not here.</summary>
    private async Task FetchModelAsync(SplitJob job, JsonObject body, CancellationToken cancellationToken)
    {
        if (job.Type != "inference" || body["data"]?["model"] is not JsonValue value || !value.TryGetValue<string>(out var sha)
            || !GroupBlobs.IsHash(sha) || _models.Find(sha) is not null)
        {
            return;
        }

        LogFetchingModel(_logger, sha, NodeRecord.Short(job.Home));
        var bytes = await _exchange.FetchAsync(LinkTo(job.Home), sha, cancellationToken);
        await _models.AddAsync(bytes, cancellationToken);
    }

    /// <summary>
    /// A part's body from its home. The home checks the request against its own copy of the group state, which may be a
    /// moment behind the assignment: a refusal is tried again for up to a second before the round gives up.
    /// </summary>
    private async Task<byte[]> FetchPayloadAsync(SplitJob job, SplitPart part, CancellationToken cancellationToken)
    {
        var until = _time.GetUtcNow() + TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                return await _exchange.FetchAsync(LinkTo(job.Home), part.Payload, cancellationToken);
            }
            catch (IOException) when (_time.GetUtcNow() < until)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), _time, cancellationToken);
            }
        }
    }
}
