namespace Tenzro.Node.Core.Tasks;

/// <summary>
/// What a run that began before its task was stored waits on before any of the task's own code runs
/// (<see cref="ITaskRuntime.PreparesBeforeStored"/>): it opens once the submission, which counts the attempt, is durable,
/// and stays shut when the submission is not stored (the run is stopped then).
/// </summary>
/// <remarks>
/// Thread-safe. A waiting thread blocks at once, without spinning, and the thread that stores the submission wakes it
/// directly: the run goes on without a hop through the thread pool.
/// </remarks>
#pragma warning disable CA1001 // The event is never disposed: a waiter may still be leaving Wait as the gate is dropped; it holds no handle until one is asked for, and none is.
public sealed class TaskStartGate
#pragma warning restore CA1001
{
    /// <summary>The gate of a run whose task was stored before the run began.</summary>
    public static TaskStartGate Open { get; } = new();

    private readonly ManualResetEventSlim? _settled;
    private volatile bool _open;

    private TaskStartGate() => _open = true;

    /// <param name="stored">Completes with the stored record once the submission is durable, with null when it is not stored.</param>
    internal TaskStartGate(Task<TaskRecord?> stored)
    {
        _settled = new ManualResetEventSlim(initialState: false, spinCount: 0);
        // Runs on the thread that settles the submission, which must not run continuations asynchronously: it only sets the event.
        stored.ContinueWith(
            static (task, state) =>
            {
                var gate = (TaskStartGate)state!;
                gate._open = task.IsCompletedSuccessfully && task.Result is not null;
                gate._settled!.Set();
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>True once the task is stored (always, for <see cref="Open"/>).</summary>
    public bool IsOpen => _open;

    /// <summary>
    /// Blocks the calling thread until the task is stored. Throws <see cref="OperationCanceledException"/> when
    /// <paramref name="cancellationToken"/> fires first or the task is not stored.
    /// </summary>
    public void Wait(CancellationToken cancellationToken)
    {
        // A run stopped just as its task was stored goes no further either.
        cancellationToken.ThrowIfCancellationRequested();
        if (_open)
        {
            return;
        }

        _settled!.Wait(cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        if (!_open)
        {
            throw new OperationCanceledException("the task's submission was not stored, so it does not run", cancellationToken);
        }
    }
}
