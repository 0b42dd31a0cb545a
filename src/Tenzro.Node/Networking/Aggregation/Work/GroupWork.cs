using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Aggregation;
using Tenzro.Node.Core.Aggregation.Split;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Networking.Peers;

namespace Tenzro.Node.Networking.Aggregation.Work;

/// <summary>
/// Split tasks across the group (docs/AGGREGATION.md "Split tasks"). Three roles, all driven by the replicated
/// group state: the <b>home</b> (the member that received the parent) splits it into payloads, registers the job with
/// the leader, fetches each settled part's result and combines them; the <b>leader</b> assigns parts under leases
/// and records reports (<see cref="JobPlanner"/>); every <b>member</b> runs the parts assigned to it through its own
/// durable queue and reports their digests. Messages to the leader are re-sent every second until the group state
/// shows them, so a lost message or a new leader costs a second, not the job.
/// </summary>
/// <remarks>
/// Thread-safe. The group state is changed only on the aggregation service's loop (<see cref="TendAsync"/> and
/// <see cref="OnMessageAsync"/>); the engine's threads run <see cref="RunAsync"/> and read snapshots.
/// </remarks>
internal sealed partial class GroupWork : ISplitRunner
{
    private static readonly TimeSpan ResendEvery = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(100);
    private readonly TaskEngine _engine;
    private readonly TaskAdmission _admission;
    private readonly GroupBlobs _blobs;
    private readonly BlobExchange _exchange;
    private readonly NodeIdentity _identity;
    private readonly PeerLinkService _links;
    private readonly PeerTable _table;
    private readonly AggregationOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<GroupWork> _logger;
    private readonly GroupWorkMetrics _metrics;
    private readonly string? _faultSwitch;
    private readonly Runtimes.Onnx.ModelCatalog _models;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ConcurrentDictionary<string, HomeJob> _homeJobs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, LocalRun> _localRuns = new(StringComparer.Ordinal);
    private IGroupLog? _log;
    private volatile bool _rejoining;
    private readonly Dictionary<string, DateTimeOffset> _sentAt = new(StringComparer.Ordinal);

    /// <summary>Parts of this node's lapsed runs already looked for in its queue (only on the aggregation loop).</summary>
    private readonly HashSet<string> _staleChecked = new(StringComparer.Ordinal);

    public GroupWork(
        TaskEngine engine,
        TaskAdmission admission,
        GroupBlobs blobs,
        BlobExchange exchange,
        NodeIdentity identity,
        PeerLinkService links,
        PeerTable table,
        AggregationOptions options,
        NodeOptions node,
        StorageOptions storage,
        TimeProvider time,
        GroupWorkMetrics metrics,
        IHostApplicationLifetime lifetime,
        Runtimes.Onnx.ModelCatalog models,
        ILogger<GroupWork> logger)
    {
        _engine = engine;
        _admission = admission;
        _blobs = blobs;
        _exchange = exchange;
        _identity = identity;
        _links = links;
        _table = table;
        _options = options;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _lifetime = lifetime;
        _models = models;
        blobs.Fallback = sha => models.Find(sha) is { } model ? models.PathOf(model) : null;

        // The fault switch of the redundancy tests, only under NODE_ENV=test: while DATA_DIR/faults/wrong-result exists,
        // this member alters the result of every part it runs (and so its digest).
        _faultSwitch = node.Environment == "test" ? Path.Combine(storage.DataDirectory, "faults", "wrong-result") : null;
        exchange.Allow = MayHave;
        _rejoining = options.Enabled && new GroupFiles(storage.DataDirectory).Load() is { } saved && saved.Self.Id == identity.NodeId;
    }

    /// <summary>A split task this node is home of, while its runner waits for the parts.</summary>
    private sealed class HomeJob(SplitJob job, SplitRequest request, string? model)
    {
        /// <summary>The sha256 of an inference job's model, which members that run its parts may fetch from here.</summary>
        public string? Model { get; } = model;

        public SplitJob Job { get; } = job;

        public SplitRequest Request { get; } = request;

        public ConcurrentDictionary<int, JsonObject> Results { get; } = new();

        /// <summary>Parts whose result could not be fetched since then.</summary>
        public ConcurrentDictionary<int, DateTimeOffset> FetchFailedSince { get; } = new();

        /// <summary>Parts whose winning member could not give its result for a lease, with that member: the leader is told.</summary>
        public ConcurrentDictionary<int, string> Lost { get; } = new();

        private readonly ConcurrentDictionary<int, int> _tries = new();

        public int FetchTries(int index) => _tries.GetValueOrDefault(index);

        public void CountFetchFailure(int index) => _tries.AddOrUpdate(index, 1, (_, n) => Math.Min(n + 1, 5));

        /// <summary>Set once the result is combined (or the parent stopped): the leader is asked to drop the job.</summary>
        public volatile bool Finished;
    }

    /// <summary>A part this node runs: its task in the local engine and, once it ended, the report for the leader.</summary>
    private sealed class LocalRun(string parentId, int index)
    {
        public string ParentId { get; } = parentId;

        public int Index { get; } = index;

        public CancellationTokenSource Stop { get; } = new();

        public volatile PartReport? Report;
    }

    /// <summary>Signalled each time the group state changes on this node; replaced by a fresh one each time.</summary>
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Raised when this node has something for the group at once: the group state changed (an assignment, a report,
    /// a new job), a home registered a job, or a part ended. The aggregation service then runs a round
    /// (<see cref="TendAsync"/>) without waiting for its next tick, so each hand-over costs a round trip, not a tick.
    /// </summary>
    public event Action? Wanted;

    /// <summary>The group log while this node is in a group (set by the aggregation service).</summary>
    public IGroupLog? Log
    {
        get => Volatile.Read(ref _log);
        set
        {
            var old = Interlocked.Exchange(ref _log, value);
            if (ReferenceEquals(old, value))
            {
                return;
            }

            if (old is not null)
            {
                old.Changed -= OnStateChanged;
            }

            if (value is not null)
            {
                value.Changed += OnStateChanged;
            }
        }
    }

    private void OnStateChanged(GroupState state)
    {
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        Wanted?.Invoke();
    }

    /// <summary>Waits until the group state changes or <see cref="PollEvery"/> passes, whichever is first.</summary>
    private async Task StateChangeAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Volatile.Read(ref _changed).Task.WaitAsync(PollEvery, _time, cancellationToken);
        }
        catch (TimeoutException)
        {
            // Polled: the state may have changed without a signal (the log was replaced).
        }
    }

    public bool CanSplit(TaskSpec task) =>
        Log is { } log && log.State.Members.Count >= 2 && TaskSplitter.SplitTypes.Contains(task.Type);

    /// <summary>
    /// Until the saved group is resumed, a task that asks to be split waits: it may be a parent whose home restarted
    /// mid-job, whose job the group log still holds; run whole it would do the group's work again on one node.
    /// </summary>
    public bool Defers(TaskSpec task) =>
        _rejoining && Log is null && SplitRequest.Requested(task) && TaskSplitter.SplitTypes.Contains(task.Type);

    /// <summary>The aggregation service resumed its saved group (or had none, or could not): the tasks that waited may start.</summary>
    public void Rejoined()
    {
        _rejoining = false;
        _engine.Pump();
    }

    public JsonObject? Describe(TaskRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!SplitRequest.Requested(record.Spec))
        {
            return null;
        }

        if (Log?.State.Job(record.TaskId) is { } job)
        {
            return Summary(job);
        }

        if (_blobs.Summary(record.TaskId) is { } saved)
        {
            return saved;
        }

        if (_homeJobs.TryGetValue(record.TaskId, out var home))
        {
            return Summary(home.Job);
        }

        return record.State == TaskState.Queued
            ? null
            : new JsonObject { ["split"] = new JsonObject { ["applied"] = false, ["reason"] = TaskSplitter.SplitTypes.Contains(record.Spec.Type) ? "no group" : $"{record.Spec.Type} tasks are not split" } };
    }

    /// <summary>The <c>split</c> and <c>parts</c> members of a parent's status.</summary>
    private static JsonObject Summary(SplitJob job) => new()
    {
        ["split"] = new JsonObject
        {
            ["applied"] = true,
            ["parts"] = job.Parts.Count,
            ["redundancy"] = job.Redundancy,
            ["disagreed"] = new JsonArray([.. job.Disagreed.Select(d => (JsonNode)d)]),
        },
        ["parts"] = new JsonArray([.. job.Parts.Select(p => (JsonNode)PartView(job, p))]),
    };

    private static JsonObject PartView(SplitJob job, SplitPart part)
    {
        var winner = job.Winner(part);
        var last = part.Runs.Count > 0 ? part.Runs[^1] : null;
        var state = winner is not null ? "completed"
            : job.Failure(part) is not null ? "failed"
            : part.Runs.Any(r => r.State == RunState.Running) ? "running"
            : "queued";
        return new JsonObject
        {
            ["taskId"] = SplitJob.PartId(job.ParentId, part.Index),
            ["member"] = (winner ?? last)?.Member,
            ["state"] = state,
            ["attempts"] = part.Attempts,
            ["durationMs"] = (winner ?? last)?.DurationMs,
            ["lastError"] = part.Runs.LastOrDefault(r => r.Error is not null)?.Error,
        };
    }

    /// <summary>The <c>jobs</c> of <c>GET /api/aggregation</c>.</summary>
    public JsonArray Jobs() =>
        new([.. (Log?.State.Jobs ?? []).Select(j => (JsonNode)new JsonObject
        {
            ["taskId"] = j.ParentId,
            ["home"] = j.Home,
            ["parts"] = j.Parts.Count,
            ["done"] = j.Parts.Count(p => j.Winner(p) is not null),
            ["state"] = j.FailedWith is not null ? "failed" : j.Complete ? "combining" : "running",
            ["partList"] = new JsonArray([.. j.Parts.Select(p => (JsonNode)PartView(j, p))]),
        })]);

    private PeerLink? LinkTo(string peerId) => _links.Links.FirstOrDefault(l => l.PeerId == peerId);

    /// <summary>Whether <paramref name="peerId"/> may fetch blob <paramref name="sha"/>: a payload of a part it was assigned, or a result of its own job.</summary>
    private bool MayHave(string peerId, string sha)
    {
        var state = Log?.State;
        if (state?.Find(peerId) is null)
        {
            return false;
        }

        return state.Jobs.Any(j => j.Parts.Any(p =>
            (p.Payload == sha && p.Runs.Any(r => r.Member == peerId))
            || (j.Home == peerId && p.Runs.Any(r => r.Result == sha))))
            || _homeJobs.Values.Any(h => h.Model == sha && state.Job(h.Job.ParentId)?.Parts.Any(p => p.Runs.Any(r => r.Member == peerId)) == true);
    }

}
