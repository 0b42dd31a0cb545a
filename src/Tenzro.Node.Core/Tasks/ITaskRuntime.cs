using System.Text.Json.Nodes;

namespace Tenzro.Node.Core.Tasks;

/// <summary>
/// Runs one or more task types. Implementations with native dependencies (Wasmtime, ONNX Runtime)
/// live in Tenzro.Node.Runtimes; the core ones (process, aggregate, store, validate) live here.
/// </summary>
/// <remarks>Implementations must be thread-safe: up to MAX_CONCURRENT_TASKS executions run at once.</remarks>
public interface ITaskRuntime
{
    /// <summary>The task types this runtime executes (e.g. "compute").</summary>
    IReadOnlyCollection<string> Types { get; }

    /// <summary>
    /// Checks a task's <c>data</c> and <c>config</c> before it is accepted; adds one error per bad field
    /// (field names like <c>data.entry</c>). Must not do expensive work beyond parsing.
    /// </summary>
    void Validate(TaskSpec task, ValidationErrors errors);

    /// <summary>
    /// Executes the task and returns its result object (the <c>result</c> whose canonical JSON is digested).
    /// Throws <see cref="TaskExecutionException"/> for a task that fails with a reason; must stop promptly
    /// when <see cref="TaskExecutionContext.CancellationToken"/> fires (timeout, cancellation, shutdown).
    /// </summary>
    Task<JsonObject> ExecuteAsync(TaskExecutionContext context);

    /// <summary>
    /// True when the runtime honours <see cref="TaskExecutionContext.Pause"/>: it stops using the CPU within moments of
    /// the gate closing and goes on where it stopped once it opens. Only such tasks are paused while the machine's user
    /// is active; the others run to their end.
    /// </summary>
    bool SupportsPause => false;

    /// <summary>
    /// True when a task that reserves a fraction of a core is held to that fraction while it runs (a CPU quota on its
    /// thread or worker). The run slots of MAX_CONCURRENT_TASKS=auto let eight such tasks a core run at once; a task
    /// of a fraction of a core that is not held (it could use a whole core) counts against two a core
    /// (<see cref="Optimization.RunSlotDecision.UnheldSlots"/>).
    /// </summary>
    bool HoldsCpuFraction => false;

    /// <summary>
    /// True (the default) when a run could take the whole process down: native code (Wasmtime, ONNX Runtime) or a
    /// task inside a task. The engine then stores the attempt before the run starts, so a task that kills the
    /// node is failed after MAX_TASK_ATTEMPTS instead of running again at every start. Runtimes of managed code
    /// only answer false and save that commit on short tasks.
    /// </summary>
    bool MayCrashTheProcess => true;

    /// <summary>
    /// True when a task started at its submission may run while that submission is still being committed: the run cannot
    /// take the process down (<see cref="MayCrashTheProcess"/> is false) and leaves nothing behind but its result (work
    /// in a worker process that writes nothing). The engine then overlaps the run with the commit; the run's start and
    /// end are written and announced only after the submission is stored, and a run whose submission is not stored (a
    /// conflicting task id, a failed write) is stopped and its outcome dropped. False by default.
    /// </summary>
    bool StartsBeforeStored => false;

    /// <summary>
    /// True when a run of a runtime that may crash the process (<see cref="MayCrashTheProcess"/>) may begin while the
    /// submission that counts its attempt is still being committed, and waits on <see cref="TaskExecutionContext.StartGate"/>
    /// before any of the task's own code runs (or, for code not compiled yet, before the compiler reads it). The engine
    /// then hands the run to the runtime before the commit instead of after it, so the hand-off and the runtime's own set-up
    /// overlap the commit; the poison-task rule holds, since nothing of the task runs before its attempt is on disk.
    /// Such a run touches nothing of the task's on disk (its scratch directory) before the gate opens either: a run whose
    /// submission is not stored must leave nothing behind. False by default.
    /// </summary>
    bool PreparesBeforeStored => false;

    /// <summary>
    /// What the cost model keys the task's history by and the work it declares (<see cref="Optimization.TaskCostInput"/>);
    /// called at admission on a validated task, so it must be cheap. The default knows the task by its type only.
    /// </summary>
    Optimization.TaskCostInput DescribeCost(TaskSpec task) => Optimization.TaskCostInput.OfType(task.Type);
}

/// <summary>What a runtime gets for one execution.</summary>
public sealed class TaskExecutionContext
{
    public required TaskSpec Task { get; init; }

    /// <summary>Fires at the deadline, on cancellation and on shutdown.</summary>
    public required CancellationToken CancellationToken { get; init; }

    /// <summary>Absolute time at which the task times out if it is never paused; see <see cref="CurrentDeadline"/>.</summary>
    public required DateTimeOffset Deadline { get; init; }

    /// <summary>
    /// The task's pause switch: closed while the engine pauses the task. A runtime that supports pausing blocks in
    /// <see cref="TaskPauseGate.WaitWhilePaused"/> at its safe points. Never closed unless the engine manages the run.
    /// </summary>
    public TaskPauseGate Pause { get; init; } = TaskPauseGate.Never;

    /// <summary>The deadline moved later by the time the task has spent paused: paused time does not count toward the timeout.</summary>
    public DateTimeOffset CurrentDeadline => Deadline + Pause.PausedTime;

    /// <summary>Reports progress in 0..1; cheap to call often (rate-limited by the engine).</summary>
    public required IProgress<double> Progress { get; init; }

    /// <summary>A per-task empty directory, deleted after the task ends. Created on first use.</summary>
    public required string ScratchDirectory { get; init; }

    /// <summary>The CPU time the task's threads used, where its runtime measures it; charged to the requester's CPU-seconds quota.</summary>
    public TaskCpuTime CpuTime { get; init; } = new();

    /// <summary>The most memory the task's sandbox held, where its runtime measures it; the cost model learns from it.</summary>
    public TaskMemoryPeak MemoryPeak { get; init; } = new();

    /// <summary>
    /// Open once the task's attempt is stored; a runtime that prepares before that (<see cref="ITaskRuntime.PreparesBeforeStored"/>)
    /// waits on it before running any of the task's code. Open from the start for every other run.
    /// </summary>
    public TaskStartGate StartGate { get; init; } = TaskStartGate.Open;
}

/// <summary>
/// The CPU time a task has used, added up by its runtime from the threads that ran its work; <see cref="Measured"/>
/// stays null for a runtime that cannot measure it, and the engine then charges reserved cores × run time.
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed class TaskCpuTime
{
    private long _ticks = -1;

    public TimeSpan? Measured => Interlocked.Read(ref _ticks) is var ticks and >= 0 ? TimeSpan.FromTicks(ticks) : null;

    /// <summary>Runs <paramref name="work"/> on the calling thread and adds the CPU time the thread used meanwhile.</summary>
    public T Measure<T>(Func<T> work)
    {
        var before = Resources.ThreadCpu.Current();
        try
        {
            return work();
        }
        finally
        {
            if (before is { } start && Resources.ThreadCpu.Current() is { } end)
            {
                Add(end - start);
            }
        }
    }

    public void Add(TimeSpan used)
    {
        long current;
        do
        {
            current = Interlocked.Read(ref _ticks);
        }
        while (Interlocked.CompareExchange(ref _ticks, Math.Max(current, 0) + Math.Max(used.Ticks, 0), current) != current);
    }
}

/// <summary>A task failed for a reason the user should see (bad module, trap, out of fuel...).</summary>
public class TaskExecutionException(string message, Exception? inner = null) : Exception(message, inner);
