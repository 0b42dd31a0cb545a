using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Runtimes.Workers;

/// <summary>
/// Long-lived worker processes of one runtime: started on first use, one job at a time each, retired after
/// <see cref="IdleRetirement"/> without a job, and replaced after any failure of their own. Each job runs under a
/// memory limit of what its task reserved: the worker's memory group is set to its usage now plus the reservation
/// (plus <see cref="RuntimeSlackBytes"/>), or, where the node cannot make groups, the worker caps its own data
/// segment by as much. A task over its memory, or a native crash in the runtime, fails that task and ends that
/// worker; the node and the other workers go on.
/// </summary>
/// <remarks>Thread-safe: up to MAX_CONCURRENT_TASKS jobs run at once, each in its own worker.</remarks>
internal sealed partial class WorkerPool : IDisposable
{
    /// <summary>How long a worker waits for its next job before the pool ends it.</summary>
    public static readonly TimeSpan IdleRetirement = TimeSpan.FromSeconds(60);

    /// <summary>Memory a job may use beyond its reservation for the runtime's own work (code compiled on first use, thread stacks).</summary>
    public const long RuntimeSlackBytes = 16L * 1024 * 1024;

    private readonly string _runtime;
    private readonly string _displayName;
    private readonly WorkerLaunch _launch;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly List<WorkerProcess> _idle = [];
    private readonly Dictionary<WorkerProcess, JsonObject> _stats = [];
    private readonly Dictionary<string, long> _retiredCounters = new(StringComparer.Ordinal);

    // Each live worker's resident memory as it started, before any job: what it holds at rest, outside every task's
    // reservation. Guarded by _lock.
    private readonly Dictionary<WorkerProcess, long> _atRest = [];
    private readonly ITimer _retireTimer;
    private int _busy;
    private long _started;
    private long _memoryLimitFailures;
    private long _crashes;
    private bool _disposed;

    public WorkerPool(string runtime, string displayName, WorkerLaunch launch, TimeProvider time, ILogger logger)
    {
        _runtime = runtime;
        _displayName = displayName;
        _launch = launch;
        _time = time;
        _logger = logger;
        _retireTimer = time.CreateTimer(_ => RetireIdle(), null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
    }

    /// <summary>How the workers' memory is held here: <c>cgroup</c> (a cgroup v1 memory group each) or <c>rlimit</c> (RLIMIT_DATA).</summary>
    public static string MemoryMechanism => MemoryGroup.Available ? "cgroup" : "rlimit";

    /// <summary>The message of a task stopped at its memory limit.</summary>
    public static string MemoryLimitMessage(long reservedBytes) =>
        $"{WorkerHost.MemoryLimitWords}: the task needed more memory than the {reservedBytes / (1024 * 1024)} MB it reserved (requirements.memoryMB); reserve more";

    /// <summary>
    /// Runs <paramref name="job"/> in a worker under a memory limit of <paramref name="reservedBytes"/> and, when
    /// <paramref name="cores"/> is a fraction, a CPU quota of that many cores (where the node may make cgroup v1 cpu
    /// groups), adding the worker's CPU time to <paramref name="cpuTime"/>. <paramref name="affinity"/> names what the job would find
    /// cached (a model); a worker that ran such a job before is preferred. <paramref name="runtimeBytes"/> is memory the
    /// runtime itself needs for this job beyond <see cref="RuntimeSlackBytes"/> (CUDA's host memory), not the task's.
    /// What the job added to the worker's resident memory at its peak is observed by <paramref name="memoryPeak"/>.
    /// </summary>
    /// <exception cref="TaskExecutionException">The job failed, went over its memory, or its worker crashed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="token"/> fired; the worker was killed.</exception>
    public async Task<JsonObject> RunAsync(
        JsonObject job, long reservedBytes, double cores, string? affinity, IProgress<double> progress, TaskCpuTime cpuTime, CancellationToken token, long runtimeBytes = 0, TaskMemoryPeak? memoryPeak = null)
    {
        token.ThrowIfCancellationRequested();
        var worker = await AcquireAsync(affinity, token);
        var reusable = false;
        try
        {
            var request = new JsonObject { ["job"] = job };
            if (worker.Group is { } group)
            {
                if (!group.Limit(group.UsageBytes + reservedBytes + RuntimeSlackBytes + runtimeBytes))
                {
                    throw new TaskExecutionException($"the node could not set the {_displayName} worker's memory limit; the task was not run");
                }
            }
            else
            {
                request["dataLimitBytes"] = reservedBytes + RuntimeSlackBytes + runtimeBytes;
            }

            var cpuBefore = worker.CpuTime();
            JsonObject answer;
            using (ThreadCpu.LimitProcess(worker.Pid, cores, refusal => Log.CpuQuotaRefused(_logger, _displayName, worker.Pid, cores, refusal)))
            using (token.Register(worker.Kill))
            {
                try
                {
                    answer = await worker.RunAsync(request, progress);
                }
                catch (WorkerStoppedException)
                {
                    token.ThrowIfCancellationRequested();
                    await worker.WaitForExitAsync(TimeSpan.FromSeconds(5));
                    // Over its memory, a worker in a memory group is killed by the kernel (counted by the group); one held
                    // by RLIMIT_DATA ends by SIGABRT when the refused allocation was the runtime's own, not the heap's.
                    if ((worker.Group is { } stopped && stopped.OomKills > 0) || (worker.Group is null && worker.Aborted))
                    {
                        Interlocked.Increment(ref _memoryLimitFailures);
                        Log.MemoryLimit(_logger, _displayName, worker.Pid, reservedBytes / (1024 * 1024));
                        throw new TaskExecutionException(MemoryLimitMessage(reservedBytes));
                    }

                    Interlocked.Increment(ref _crashes);
                    Log.WorkerStopped(_logger, _displayName, worker.Pid, worker.ExitDescription);
                    throw new TaskExecutionException(
                        $"the {_displayName} worker running this task stopped before it answered ({worker.ExitDescription}); the task failed, the node goes on");
                }
            }

            if (cpuBefore is { } before && worker.CpuTime() is { } after)
            {
                cpuTime.Add(after - before);
            }

            if (answer["peakBytes"] is JsonValue peak && peak.TryGetValue<long>(out var peakBytes))
            {
                memoryPeak?.Observe(peakBytes);
            }

            if (answer["stats"] is JsonObject stats)
            {
                lock (_lock)
                {
                    _stats[worker] = stats;
                }
            }

            if (answer["error"] is JsonValue error)
            {
                if (answer["memoryLimit"]?.GetValue<bool>() == true)
                {
                    Interlocked.Increment(ref _memoryLimitFailures);
                    Log.MemoryLimit(_logger, _displayName, worker.Pid, reservedBytes / (1024 * 1024));
                    throw new TaskExecutionException(MemoryLimitMessage(reservedBytes));
                }

                reusable = true;
                throw new TaskExecutionException(error.GetValue<string>());
            }

            reusable = true;
            progress.Report(1); // the worker does not send the end as progress: its answer is the end
            if (affinity is not null)
            {
                lock (_lock)
                {
                    worker.Affinity.Add(affinity);
                }
            }

            return answer["result"] as JsonObject ?? throw new TaskExecutionException($"the {_displayName} worker answered without a result");
        }
        finally
        {
            // A worker whose task was cancelled as it answered may be in the middle of being killed.
            Release(worker, reusable && !token.IsCancellationRequested);
        }
    }

    /// <summary>
    /// The sum over the workers of a counter from their latest figures (<c>runs</c>, <c>sessionCache.hits</c>); with
    /// <paramref name="includeEnded"/>, the figures of workers that ended count too (for counters since start).
    /// </summary>
    public long Total(string path, bool includeEnded)
    {
        lock (_lock)
        {
            var total = _stats.Values.Sum(s => Read(s, path));
            return includeEnded && _retiredCounters.TryGetValue(path, out var ended) ? total + ended : total;
        }
    }

    /// <summary>The pool's figures for <c>GET /api/models</c> and the like: workers, their memory, failures.</summary>
    public JsonObject ToJson()
    {
        lock (_lock)
        {
            var resident = _stats.Keys.Sum(w => w.ResidentBytes() ?? 0);
            return new JsonObject
            {
                ["memoryLimit"] = MemoryMechanism,
                ["idle"] = _idle.Count,
                ["busy"] = _busy,
                ["residentBytes"] = resident,
                ["started"] = Interlocked.Read(ref _started),
                ["memoryLimitFailures"] = Interlocked.Read(ref _memoryLimitFailures),
                ["crashes"] = Interlocked.Read(ref _crashes),
            };
        }
    }

    /// <summary>What the live workers hold at rest (their resident memory as they started), outside every task's reservation.</summary>
    public long AtRestBytes
    {
        get
        {
            lock (_lock)
            {
                return _atRest.Values.Sum();
            }
        }
    }

    /// <summary>Raised after a worker started or ended, so <see cref="AtRestBytes"/> changed. Handlers must be quick and not throw.</summary>
    public event Action? AtRestChanged;

    /// <summary>The process ids of the live workers (idle and busy).</summary>
    public IReadOnlyList<int> Pids()
    {
        lock (_lock)
        {
            return [.. _stats.Keys.Concat(_idle).Select(w => w.Pid).Distinct()];
        }
    }

    public void Dispose()
    {
        List<WorkerProcess> idle;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            idle = [.. _idle];
            _idle.Clear();
        }

        _retireTimer.Dispose();
        foreach (var worker in idle)
        {
            End(worker);
        }
    }

    private async Task<WorkerProcess> AcquireAsync(string? affinity, CancellationToken token)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var pick = _idle.FindLastIndex(w => affinity is not null && w.Affinity.Contains(affinity));
            if (pick < 0)
            {
                pick = _idle.Count - 1;
            }

            while (pick >= 0)
            {
                var worker = _idle[pick];
                _idle.RemoveAt(pick);
                if (!worker.HasExited)
                {
                    _busy++;
                    return worker;
                }

                Forget(worker);
                pick = _idle.Count - 1;
            }

            _busy++;
        }

        try
        {
            var started = await WorkerProcess.StartAsync(_launch, _runtime, token);
            Interlocked.Increment(ref _started);
            Log.WorkerStarted(_logger, _displayName, started.Pid, MemoryMechanism);
            var atRest = started.ResidentBytes() ?? 0;
            lock (_lock)
            {
                _stats[started] = new JsonObject();
                _atRest[started] = atRest;
            }

            AtRestChanged?.Invoke();
            return started;
        }
        catch (IOException e)
        {
            lock (_lock)
            {
                _busy--;
            }

            throw new TaskExecutionException($"the {_displayName} worker could not be started: {e.Message}", e);
        }
        catch
        {
            lock (_lock)
            {
                _busy--;
            }

            throw;
        }
    }

    private void Release(WorkerProcess worker, bool reusable)
    {
        var end = !reusable || worker.HasExited;
        lock (_lock)
        {
            _busy--;
            if (!end && !_disposed)
            {
                worker.IdleSince = _time.GetUtcNow();
                _idle.Add(worker);
                return;
            }
        }

        End(worker);
    }

    private void RetireIdle()
    {
        List<WorkerProcess> retired = [];
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            retired.AddRange(_idle.Where(w => now - w.IdleSince >= IdleRetirement || w.HasExited));
            _idle.RemoveAll(retired.Contains);
        }

        foreach (var worker in retired)
        {
            End(worker);
        }
    }

    private void End(WorkerProcess worker)
    {
        lock (_lock)
        {
            Forget(worker);
        }

        worker.Dispose();
        if (!_disposed)
        {
            AtRestChanged?.Invoke();
        }
    }

    /// <summary>Keeps an ended worker's counters in the totals. Called under the lock.</summary>
    private void Forget(WorkerProcess worker)
    {
        _atRest.Remove(worker);
        if (!_stats.Remove(worker, out var stats))
        {
            return;
        }

        foreach (var path in Counters(stats, ""))
        {
            _retiredCounters[path] = _retiredCounters.GetValueOrDefault(path) + Read(stats, path);
        }
    }

    private static IEnumerable<string> Counters(JsonObject stats, string prefix)
    {
        foreach (var (name, value) in stats)
        {
            if (value is JsonObject inner)
            {
                foreach (var path in Counters(inner, prefix + name + "."))
                {
                    yield return path;
                }
            }
            else if (value is JsonValue)
            {
                yield return prefix + name;
            }
        }
    }

    private static long Read(JsonObject stats, string path)
    {
        JsonNode? node = stats;
        foreach (var part in path.Split('.'))
        {
            node = node is JsonObject o ? o[part] : null;
        }

        return node is JsonValue v && v.TryGetValue<long>(out var value) ? value : 0;
    }
}
