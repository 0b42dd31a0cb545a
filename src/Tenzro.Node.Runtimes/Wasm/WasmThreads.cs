using System.Collections.Concurrent;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>
/// Threads with the large native stack Wasmtime needs, kept between tasks: creating an 8 MiB-stack thread
/// per task costs more than a trivial module's whole run. A task never waits for another: when no thread
/// is idle a new one starts, and a thread idle for <see cref="IdleLifetime"/> ends.
/// </summary>
/// <remarks>
/// Thread-safe. An idle thread blocks at once, without spinning first: <see cref="SemaphoreSlim"/> spun up to 140
/// times (most of them <c>sched_yield</c>) after every task, about 75 system calls per short task that took CPU
/// from the writer committing that task's end (docs/BENCHMARKS.md, "The compute path, round three").
/// </remarks>
internal static class WasmThreads
{
    public static readonly TimeSpan IdleLifetime = TimeSpan.FromSeconds(60);

    private static readonly ConcurrentStack<Worker> Idle = new();

    /// <summary>Runs <paramref name="work"/> on a large-stack thread.</summary>
    public static void Run(Action work)
    {
        while (Idle.TryPop(out var worker))
        {
            if (worker.TryAssign(work))
            {
                return;
            }
        }

        var thread = new Thread(() => new Worker().Loop(work), WasmDefaults.HostThreadStackBytes) { IsBackground = true, Name = "wasm task" };
        thread.Start();
    }

    /// <remarks>Never disposed: a worker's event lives as long as its thread, which ends by returning.</remarks>
#pragma warning disable CA1001
    private sealed class Worker
#pragma warning restore CA1001
    {
        private const int Waiting = 0;
        private const int Assigned = 1;
        private const int Retired = 2;

        private readonly ManualResetEventSlim _signal = new(initialState: false, spinCount: 0);
        private Action? _work;
        private int _state;

        public bool TryAssign(Action work)
        {
            _work = work;
            if (Interlocked.CompareExchange(ref _state, Assigned, Waiting) != Waiting)
            {
                _work = null;
                return false;
            }

            _signal.Set();
            return true;
        }

        public void Loop(Action first)
        {
            var work = first;
            while (true)
            {
                work();
                Volatile.Write(ref _state, Waiting);
                Idle.Push(this);
                if (!_signal.Wait(IdleLifetime))
                {
                    if (Interlocked.CompareExchange(ref _state, Retired, Waiting) == Waiting)
                    {
                        // Retired: a caller that pops it later fails TryAssign and moves on.
                        return;
                    }

                    // Assigned just as the wait timed out: the signal is on its way.
                    _signal.Wait();
                }

                _signal.Reset();
                work = Interlocked.Exchange(ref _work, null)!;
            }
        }
    }
}
