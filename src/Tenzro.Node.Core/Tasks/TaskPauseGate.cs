namespace Tenzro.Node.Core.Tasks;

/// <summary>
/// The pause switch of one running task. The engine closes it when the task must stop using the CPU (the
/// machine's user became active) and opens it again later; a runtime that can pause (see
/// <see cref="ITaskRuntime.SupportsPause"/>) calls <see cref="WaitWhilePaused"/> at its safe points and
/// blocks there while the gate is closed. Time spent paused is tracked so that it does not count toward the
/// task's timeout.
/// </summary>
/// <remarks>
/// Thread-safe. <see cref="WaitWhilePaused"/> may be called from any thread, any number of times;
/// <see cref="Pause"/> and <see cref="Resume"/> are called by the engine only.
/// </remarks>
public sealed class TaskPauseGate
{
    private readonly TimeProvider _time;
    // A plain object: waiting uses Monitor.Wait, which System.Threading.Lock does not offer.
    private readonly object _lock = new();
    private TimeSpan _pausedBefore;
    private long _pausedAt;
    private volatile bool _paused;
    private int _holding;

    public TaskPauseGate(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
    }

    /// <summary>A gate that is never closed, for executions the engine does not manage (tests, nested runs).</summary>
    public static TaskPauseGate Never { get; } = new(TimeProvider.System);

    /// <summary>True while the engine wants the task paused.</summary>
    public bool IsPaused => _paused;

    /// <summary>True while a runtime thread is blocked in <see cref="WaitWhilePaused"/>: the task is using no CPU.</summary>
    public bool IsHolding => Volatile.Read(ref _holding) > 0;

    /// <summary>Total time the gate has been closed, including the current pause.</summary>
    public TimeSpan PausedTime
    {
        get
        {
            lock (_lock)
            {
                return _paused ? _pausedBefore + _time.GetElapsedTime(_pausedAt) : _pausedBefore;
            }
        }
    }

    /// <summary>Blocks the calling thread while the gate is closed; returns at once when it is open.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired while paused.</exception>
    public void WaitWhilePaused(CancellationToken cancellationToken)
    {
        if (!_paused)
        {
            return;
        }

        Interlocked.Increment(ref _holding);
        try
        {
            using var wake = cancellationToken.Register(Wake);
            lock (_lock)
            {
                while (_paused)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    Monitor.Wait(_lock);
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _holding);
        }
    }

    /// <summary>Closes the gate. Returns false when it was closed already.</summary>
    internal bool Pause()
    {
        lock (_lock)
        {
            if (_paused)
            {
                return false;
            }

            _pausedAt = _time.GetTimestamp();
            _paused = true;
            return true;
        }
    }

    /// <summary>Opens the gate. Returns false when it was open already.</summary>
    internal bool Resume()
    {
        lock (_lock)
        {
            if (!_paused)
            {
                return false;
            }

            _pausedBefore += _time.GetElapsedTime(_pausedAt);
            _paused = false;
            Monitor.PulseAll(_lock);
            return true;
        }
    }

    private void Wake()
    {
        lock (_lock)
        {
            Monitor.PulseAll(_lock);
        }
    }
}
