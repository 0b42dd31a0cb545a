namespace Tenzro.Node.Tests.Dht;

/// <summary>
/// A discrete-event clock: timers fire in time order when <see cref="RunUntil"/> moves time forward, on the caller's
/// thread, so thousands of simulated nodes run in seconds and the same seed gives the same run.
/// </summary>
/// <remarks>Thread-safe; callbacks run one at a time.</remarks>
internal sealed class VirtualClock : TimeProvider
{
    private readonly Lock _lock = new();
    private readonly PriorityQueue<(VirtualTimer Timer, long Generation), (DateTimeOffset Due, long Order)> _queue = new();
    private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private long _order;

    public override DateTimeOffset GetUtcNow()
    {
        lock (_lock)
        {
            return _now;
        }
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new VirtualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Runs <paramref name="action"/> after <paramref name="delay"/> of virtual time.</summary>
    public void Schedule(TimeSpan delay, Action action) => CreateTimer(static s => ((Action)s!)(), action, delay, Timeout.InfiniteTimeSpan);

    /// <summary>Fires timers in order until <paramref name="done"/> holds or <paramref name="limit"/> of virtual time passed; false on the limit.</summary>
    public bool RunUntil(Func<bool> done, TimeSpan limit)
    {
        var end = GetUtcNow() + limit;
        var idleSince = DateTime.UtcNow;
        while (!done())
        {
            (VirtualTimer Timer, long Generation)? next = null;
            lock (_lock)
            {
                if (_queue.TryPeek(out var timer, out var at) && at.Due <= end)
                {
                    _queue.Dequeue();
                    _now = at.Due > _now ? at.Due : _now;
                    next = timer;
                }
            }

            if (next is null)
            {
                // Nothing is due: a continuation may still be running on the thread pool; give it a moment of real time.
                if (DateTime.UtcNow - idleSince > TimeSpan.FromSeconds(2))
                {
                    lock (_lock)
                    {
                        _now = end;
                    }

                    return done();
                }

                Thread.Sleep(1);
                continue;
            }

            idleSince = DateTime.UtcNow;
            next.Value.Timer.Fire(next.Value.Generation);
        }

        return true;
    }

    /// <summary>Lets <paramref name="span"/> of virtual time pass, firing what falls due.</summary>
    public void Advance(TimeSpan span)
    {
        var end = GetUtcNow() + span;
        RunUntil(() => false, span);
        lock (_lock)
        {
            if (_now < end)
            {
                _now = end;
            }
        }
    }

    private void Enqueue(VirtualTimer timer, long generation, DateTimeOffset due)
    {
        lock (_lock)
        {
            _queue.Enqueue((timer, generation), (due, _order++));
        }
    }

    private sealed class VirtualTimer(VirtualClock clock, TimerCallback callback, object? state) : ITimer
    {
        private long _generation;
        private long _armed = -1;
        private TimeSpan _period = Timeout.InfiniteTimeSpan;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            _period = period;
            var generation = Interlocked.Increment(ref _generation);
            if (dueTime == Timeout.InfiniteTimeSpan)
            {
                Interlocked.Exchange(ref _armed, -1);
                return true;
            }

            Interlocked.Exchange(ref _armed, generation);
            clock.Enqueue(this, generation, clock.GetUtcNow() + dueTime);
            return true;
        }

        public void Fire(long generation)
        {
            // Only the latest arming fires; queue entries of an earlier arming (or of a disposed timer) are skipped.
            if (Interlocked.CompareExchange(ref _armed, -1, generation) != generation)
            {
                return;
            }

            if (_period != Timeout.InfiniteTimeSpan && _period > TimeSpan.Zero)
            {
                Change(_period, _period);
            }

            callback(state);
        }

        public void Dispose() => Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
