using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Diagnostics;

namespace Tenzro.Node.Core.Tasks;

/// <summary>A lifecycle hook of the task engine: implements one or more of the phase interfaces below.</summary>
public interface ITaskHook;

/// <summary>Before the runtime runs: the task holds its slot and reservation, and its timeout runs.</summary>
public interface ITaskPrestartHook : ITaskHook
{
    /// <summary>Prepares the run (a scratch directory, inputs fetched from elsewhere); <paramref name="cancellationToken"/> fires on the task's timeout, cancellation and shutdown.</summary>
    ValueTask PrestartAsync(TaskRun run, CancellationToken cancellationToken);
}

/// <summary>The runtime has ended with a final outcome, which is not stored yet (nothing outside the engine sees it).</summary>
public interface ITaskStoppedHook : ITaskHook
{
    /// <summary>Learns from the run before its end is visible; must be quick.</summary>
    void Stopped(TaskRun run, TaskEnd end);
}

/// <summary>
/// The final state is stored: every task that the engine ends (one that ran, or one cancelled while it waited), exactly
/// once. The task still holds its slot while these run, so they must be quick or hand slow work on (a queue).
/// </summary>
public interface ITaskFinishedHook : ITaskHook
{
    ValueTask FinishedAsync(TaskEnd end);
}

/// <summary>
/// The run is leaving its slot, however it ended (also when shutdown puts it back in the queue). Called before the slot is
/// given back, so a later run of the same task id (after a run that started before its submission was stored) never
/// starts before this returns.
/// </summary>
public interface ITaskReleasedHook : ITaskHook
{
    /// <summary>Cleans up after the run; must be quick.</summary>
    void Released(TaskRun run);
}

/// <summary>One run of a task, as its hooks see it: created when the task gets its slot.</summary>
public sealed class TaskRun
{
    /// <summary>The task with its payload (read back from the store at the start).</summary>
    public required TaskSpec Task { get; init; }

    /// <summary>Which attempt this run is, from 1.</summary>
    public required int Attempt { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>The run's scratch directory, named by the scratch hook at prestart (<see cref="TaskScratch"/>).</summary>
    public string ScratchDirectory { get; set; } = string.Empty;

    /// <summary>The CPU time the runtime measured, if it measures it.</summary>
    public TaskCpuTime CpuTime { get; } = new();

    /// <summary>The most memory the sandbox held, if the runtime measures it.</summary>
    public TaskMemoryPeak MemoryPeak { get; } = new();
}

/// <summary>How a task ended.</summary>
/// <param name="Spec">The task, without its payload (<see cref="TaskRun.Task"/> has it).</param>
/// <param name="State">Its final state.</param>
/// <param name="ActiveTime">Its run time less the time it spent paused; zero when it never ran.</param>
/// <param name="CpuSeconds">
/// The CPU-seconds it used: measured by its runtime (<see cref="TaskExecutionContext.CpuTime"/>), else its reserved cores × its
/// active time; null when it never ran.
/// </param>
public sealed record TaskEnd(TaskSpec Spec, TaskState State, TimeSpan ActiveTime, double? CpuSeconds);

/// <summary>
/// The engine's lifecycle hooks in the order they run, phase by phase: the engine's own first (<see cref="TaskScratch"/>,
/// then the cost model's <see cref="CostRecordHook"/>), then the host's as <see cref="TaskHooks"/> lists them
/// (<c>CoreServices.AddTaskEngine</c>). A hook that throws is logged and skipped; the task's outcome stands.
/// </summary>
/// <remarks>Thread-safe: the lists are fixed at construction; hooks run concurrently for different tasks.</remarks>
public sealed partial class TaskLifecycle
{
    private readonly ITaskPrestartHook[] _prestart;
    private readonly ITaskStoppedHook[] _stopped;
    private readonly ITaskFinishedHook[] _finished;
    private readonly ITaskReleasedHook[] _released;
    private readonly ILogger _logger;

    public TaskLifecycle(IEnumerable<ITaskHook?> hooks, ILogger logger)
    {
        var list = hooks.OfType<ITaskHook>().ToArray();
        Hooks = list;
        _prestart = [.. list.OfType<ITaskPrestartHook>()];
        _stopped = [.. list.OfType<ITaskStoppedHook>()];
        _finished = [.. list.OfType<ITaskFinishedHook>()];
        _released = [.. list.OfType<ITaskReleasedHook>()];
        _logger = logger;
    }

    /// <summary>Every hook, in order.</summary>
    public IReadOnlyList<ITaskHook> Hooks { get; }

    public async Task PrestartAsync(TaskRun run, CancellationToken cancellationToken)
    {
        foreach (var hook in _prestart)
        {
            try
            {
                await hook.PrestartAsync(run, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The run is stopping; the runtime sees the same token and ends it as a stop.
                return;
            }
            catch (Exception e)
            {
                LogHookFailed(_logger, e, hook.GetType().Name, "prestart", run.Task.TaskId);
            }
        }
    }

    public void Stopped(TaskRun run, TaskEnd end)
    {
        foreach (var hook in _stopped)
        {
            try
            {
                hook.Stopped(run, end);
            }
            catch (Exception e)
            {
                LogHookFailed(_logger, e, hook.GetType().Name, "stopped", end.Spec.TaskId);
            }
        }
    }

    public async Task FinishedAsync(TaskEnd end)
    {
        foreach (var hook in _finished)
        {
            try
            {
                await hook.FinishedAsync(end);
            }
            catch (Exception e)
            {
                LogHookFailed(_logger, e, hook.GetType().Name, "finished", end.Spec.TaskId);
            }
        }
    }

    public void Released(TaskRun run)
    {
        foreach (var hook in _released)
        {
            try
            {
                hook.Released(run);
            }
            catch (Exception e)
            {
                LogHookFailed(_logger, e, hook.GetType().Name, "released", run.Task.TaskId);
            }
        }
    }

    [LoggerMessage(EventId = LogEvents.TaskHookFailed, Level = LogLevel.Error, Message = "The {Hook} hook failed at {Phase} of task {TaskId}; the task's outcome stands")]
    private static partial void LogHookFailed(ILogger logger, Exception exception, string hook, string phase, string taskId);
}

/// <summary>The host's lifecycle hooks, in the order they run after the engine's own (see <see cref="TaskLifecycle"/>).</summary>
public sealed class TaskHooks(IEnumerable<ITaskHook?> hooks)
{
    public static readonly TaskHooks None = new([]);

    public IReadOnlyList<ITaskHook> Ordered { get; } = [.. hooks.OfType<ITaskHook>()];
}
