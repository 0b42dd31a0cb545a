using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Core.Optimization;

/// <summary>
/// Predicts a task's duration and peak memory before it runs, and learns from what runs took, as BOINC's client
/// does: first from the task's declared work at the benchmarked speed (<see cref="EstimateBasis.Benchmark"/>), then
/// corrected by measured runs of the same module, model or type (<see cref="EstimateBasis.History"/>). The history
/// is kept in the store and written at most every <see cref="FlushInterval"/>.
/// </summary>
/// <remarks>Thread-safe. <see cref="Dispose"/> writes what is not yet stored.</remarks>
public sealed partial class CostModel : IDisposable
{
    /// <summary>A task is refused when its history estimate is above its timeout by more than this factor.</summary>
    public const double RefusalMargin = 1.5;

    /// <summary>Measured runs a history estimate needs before it may refuse a task: one slow run is not enough.</summary>
    public const int RunsBeforeRefusal = 3;

    /// <summary>Tasks whose estimate is kept in memory for their status; older ones are forgotten first.</summary>
    public const int KeptTasks = 10_000;

    /// <summary>Modules, models and types whose history is kept; the least recently run are forgotten first.</summary>
    public const int KeptKeys = 10_000;

    public static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(5);

    private readonly CostHistoryStore? _store;
    private readonly HardwareProfiler? _profiler;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, CostHistory> _history = new(StringComparer.Ordinal);
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private readonly HashSet<string> _removed = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Planned> _tasks = new(StringComparer.Ordinal);
    private readonly Queue<string> _taskOrder = new();
    private readonly ITimer? _flushTimer;

    public CostModel(TimeProvider time, CostHistoryStore? store = null, HardwareProfiler? profiler = null, ILogger<CostModel>? logger = null)
    {
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _store = store;
        _profiler = profiler;
        _logger = logger ?? NullLogger<CostModel>.Instance;
        foreach (var row in store?.LoadAll() ?? [])
        {
            _history[row.Key] = row;
        }

        if (store is not null)
        {
            _flushTimer = time.CreateTimer(_ => Flush(), null, FlushInterval, FlushInterval);
        }
    }

    /// <summary>The estimate for a task with cost <paramref name="input"/>; null when there is neither a history nor a benchmark to go by.</summary>
    public TaskEstimate? Estimate(TaskSpec task, TaskCostInput input) => Estimate(task, input, BenchmarkMs(input));

    /// <summary>Why the task is refused (its history estimate is above its timeout by more than <see cref="RefusalMargin"/>); null when it is not.</summary>
    public string? Refusal(TaskSpec task, TaskCostInput input)
    {
        ArgumentNullException.ThrowIfNull(task);
        var estimate = Estimate(task, input);
        if (estimate is not { Basis: EstimateBasis.History, SameCall: true } || estimate.Runs < RunsBeforeRefusal
            || estimate.DurationMs <= task.Timeout.TotalMilliseconds * RefusalMargin)
        {
            return null;
        }

        return string.Create(
            CultureInfo.InvariantCulture,
            $"the task is estimated to run {estimate.DurationMs:0} ms and use {estimate.MemoryMB} MB (from {estimate.Runs} measured runs of the same {Noun(input)}), more than {RefusalMargin} × its timeout of {task.Timeout.TotalSeconds:0.###} s; give it a timeout of at least {Math.Ceiling(estimate.DurationMs / 1000 * 1.2):0} s or less work.");
    }

    /// <summary>Estimates a task about to be queued and keeps the estimate for its status and for learning from its run.</summary>
    public TaskEstimate? Plan(TaskSpec task, TaskCostInput input)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(input);
        var benchmark = BenchmarkMs(input);
        var estimate = Estimate(task, input, benchmark);
        lock (_lock)
        {
            if (!_tasks.ContainsKey(task.TaskId))
            {
                _taskOrder.Enqueue(task.TaskId);
                while (_taskOrder.Count > KeptTasks)
                {
                    _tasks.Remove(_taskOrder.Dequeue());
                }
            }

            _tasks[task.TaskId] = new Planned(input, estimate, benchmark);
        }

        return estimate;
    }

    /// <summary>The estimate made when the task was queued; null when none could be made or the task is not known here.</summary>
    public TaskEstimate? EstimateOf(string taskId)
    {
        lock (_lock)
        {
            return _tasks.TryGetValue(taskId, out var planned) ? planned.Estimate : null;
        }
    }

    /// <summary>Learns from a completed run of a planned task: its active run time and its peak memory (null when not measured).</summary>
    public void Record(string taskId, TimeSpan duration, long? peakMemoryBytes)
    {
        CostHistory updated;
        lock (_lock)
        {
            if (!_tasks.TryGetValue(taskId, out var planned))
            {
                return;
            }

            var key = planned.Input.Key;
            var peakMB = peakMemoryBytes / (1024.0 * 1024.0);
            var now = _time.GetUtcNow();
            updated = Learn(key, planned.BenchmarkMs, duration.TotalMilliseconds, peakMB, now);
            if (planned.Input.CallKey is { } callKey)
            {
                Learn(callKey, planned.BenchmarkMs, duration.TotalMilliseconds, peakMB, now);
            }

            ForgetOldKeys();
        }

        Log.Learned(_logger, updated.Key, updated.Runs, duration.TotalMilliseconds);
    }

    /// <summary>Adds one run to the history of <paramref name="key"/>; under the lock.</summary>
    private CostHistory Learn(string key, double? benchmarkMs, double actualMs, double? peakMB, DateTimeOffset now)
    {
        var updated = CostHistory.Add(_history.GetValueOrDefault(key), key, benchmarkMs, actualMs, peakMB, now);
        _history[key] = updated;
        _dirty.Add(key);
        _removed.Remove(key);
        return updated;
    }

    /// <summary>The history kept for <paramref name="key"/>; null when no run was measured.</summary>
    public CostHistory? History(string key)
    {
        lock (_lock)
        {
            return _history.GetValueOrDefault(key);
        }
    }

    /// <summary>Writes the histories changed since the last write.</summary>
    public void Flush()
    {
        if (_store is null)
        {
            return;
        }

        List<CostHistory> rows;
        List<string> removed;
        lock (_lock)
        {
            rows = [.. _dirty.Select(k => _history[k])];
            removed = [.. _removed];
            _dirty.Clear();
            _removed.Clear();
        }

        try
        {
            _store.Save(rows, removed);
        }
        catch (Exception e)
        {
            // Kept for the next write: a passing failure (a full disk, a busy database) loses nothing.
            lock (_lock)
            {
                foreach (var row in rows.Where(r => _history.ContainsKey(r.Key)))
                {
                    _dirty.Add(row.Key);
                }

                _removed.UnionWith(removed.Where(k => !_history.ContainsKey(k)));
            }

            Log.FlushFailed(_logger, e);
        }
    }

    public void Dispose()
    {
        _flushTimer?.Dispose();
        Flush();
    }

    private TaskEstimate? Estimate(TaskSpec task, TaskCostInput input, double? benchmarkMs)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(input);
        var general = History(input.Key);
        if (input.CallKey is { } callKey && History(callKey) is { } call)
        {
            // The same call again: what it typically took.
            return new TaskEstimate(Math.Round(Math.Exp(call.LogDurationMs), 3), PeakMB(call, general, task), EstimateBasis.History, call.Runs) { SameCall = true };
        }

        if (general is not null)
        {
            // Another call of a measured module or model: the benchmark estimate corrected as its runs were, where the
            // declared work is the work; else what its runs typically took.
            var duration = input.WorkScales && benchmarkMs is { } b && general.LogRatio is { } ratio ? b * Math.Exp(ratio) : Math.Exp(general.LogDurationMs);
            return new TaskEstimate(Math.Round(duration, 3), PeakMB(general, null, task), EstimateBasis.History, general.Runs) { SameCall = input.CallKey is null };
        }

        return benchmarkMs is { } ms ? new TaskEstimate(Math.Round(ms, 3), task.Requirements.MemoryMB, EstimateBasis.Benchmark, 0) : null;
    }

    private static long PeakMB(CostHistory history, CostHistory? fallback, TaskSpec task) =>
        (history.PeakMemoryMB ?? fallback?.PeakMemoryMB) is { } peak ? (long)Math.Ceiling(Math.Max(peak, 1)) : task.Requirements.MemoryMB;

    /// <summary>The declared work at the benchmarked single-core speed (<see cref="TaskCostInput.Benchmark"/>), in ms; null without either.</summary>
    private double? BenchmarkMs(TaskCostInput input) =>
        input.WorkOps is { } ops && _profiler?.Current.Benchmarks.GetValueOrDefault(input.Benchmark) is { Value: > 0 } speed
            ? (ops / speed.Value * 1000) + input.FixedMs
            : null;

    /// <summary>
    /// Beyond <see cref="KeptKeys"/>, forgets the least recently run down to 90 % of it at once: calls with arguments of
    /// their own each add a key, and sorting the histories at every run past the limit would cost every task's end.
    /// </summary>
    private void ForgetOldKeys()
    {
        if (_history.Count <= KeptKeys)
        {
            return;
        }

        foreach (var old in _history.Values.OrderBy(h => h.UpdatedAt).Take(_history.Count - (KeptKeys * 9 / 10)).ToList())
        {
            _history.Remove(old.Key);
            _dirty.Remove(old.Key);
            _removed.Add(old.Key);
        }
    }

    private static string Noun(TaskCostInput input) => input.Key.StartsWith("wasm:", StringComparison.Ordinal) ? "module, entry and input"
        : input.Key.StartsWith("model:", StringComparison.Ordinal) ? "model and input shapes"
        : "task type";

    private sealed record Planned(TaskCostInput Input, TaskEstimate? Estimate, double? BenchmarkMs);

    private static partial class Log
    {
        [LoggerMessage(EventId = Diagnostics.LogEvents.CostLearned, Level = LogLevel.Debug, Message = "Cost history of {Key}: {Runs} run(s), the last took {DurationMs:F1} ms")]
        public static partial void Learned(ILogger logger, string key, int runs, double durationMs);

        [LoggerMessage(EventId = Diagnostics.LogEvents.CostFlushFailed, Level = LogLevel.Warning, Message = "The cost history could not be written; it is kept in memory and written again later")]
        public static partial void FlushFailed(ILogger logger, Exception exception);
    }
}
