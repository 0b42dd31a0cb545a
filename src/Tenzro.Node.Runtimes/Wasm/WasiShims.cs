using Wasmtime;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>
/// Replaces the WASI preview 1 functions that Wasmtime's WASI cannot be told to withhold or to interrupt:
/// <c>clock_time_get</c>, <c>clock_res_get</c> and <c>random_get</c> answer ENOSYS unless the task sets
/// <c>config.wasiClock</c> / <c>config.wasiRandom</c>, and <c>poll_oneoff</c> (how WASI sleeps) is ours, so a
/// sleeping module wakes as soon as its task is cancelled or times out instead of holding its thread.
/// </summary>
internal static class WasiShims
{
    private const string Wasi = "wasi_snapshot_preview1";
    private const int ErrnoSuccess = 0;
    private const int ErrnoFault = 21;
    private const int ErrnoInterrupted = 27;
    private const int ErrnoInvalid = 28;
    private const int ErrnoNoSys = 52;
    private const int ErrnoNotSupported = 58;

    private const int SubscriptionSize = 48;
    private const int EventSize = 32;
    private const byte EventClock = 0;
    private const byte EventFdRead = 1;
    private const byte EventFdWrite = 2;
    private const int ClockRealtime = 0;
    private const int SubscriptionClockAbstime = 1;

    /// <summary>Defines the replacements in <paramref name="linker"/>, after <see cref="Linker.DefineWasi"/>.</summary>
    public static void Define(Linker linker, bool clocks, bool random)
    {
        linker.AllowShadowing = true;
        if (!clocks)
        {
            linker.DefineFunction(Wasi, "clock_time_get", (int id, long precision, int resultPointer) => ErrnoNoSys);
            linker.DefineFunction(Wasi, "clock_res_get", (int id, int resultPointer) => ErrnoNoSys);
        }

        if (!random)
        {
            linker.DefineFunction(Wasi, "random_get", (int buffer, int length) => ErrnoNoSys);
        }

        linker.DefineFunction(Wasi, "poll_oneoff", (Caller caller, int subscriptions, int events, int count, int eventCountPointer) =>
            PollOneoff(caller, subscriptions, events, count, eventCountPointer, clocks, WasmCallState.Of(caller).Cancellation));
        linker.AllowShadowing = false;
    }

    /// <summary>
    /// WASI <c>poll_oneoff</c>: fd subscriptions are ready at once (stdin is a file and stdout/stderr are
    /// captured in memory, so neither blocks); otherwise it sleeps until the earliest clock subscription,
    /// or until the task is cancelled, and reports the clocks that expired.
    /// </summary>
    private static int PollOneoff(Caller caller, int subscriptions, int events, int count, int eventCountPointer, bool clocks, CancellationToken cancellation)
    {
        var memory = caller.GetMemory("memory");
        if (memory is null || count <= 0)
        {
            return ErrnoInvalid;
        }

        var length = memory.GetLength();
        if (!InBounds(subscriptions, (long)count * SubscriptionSize, length)
            || !InBounds(events, (long)count * EventSize, length)
            || !InBounds(eventCountPointer, 4, length))
        {
            return ErrnoFault;
        }

        var fdEvents = new List<(long UserData, byte Type)>();
        var clockEvents = new List<(long UserData, TimeSpan Wait)>();
        for (var i = 0; i < count; i++)
        {
            long at = (uint)subscriptions + ((long)i * SubscriptionSize);
            var userData = memory.ReadInt64(at);
            var tag = memory.ReadByte(at + 8);
            switch (tag)
            {
                case EventClock:
                    if (!clocks)
                    {
                        return ErrnoNoSys;
                    }

                    var clockId = memory.ReadInt32(at + 16);
                    var timeout = (ulong)memory.ReadInt64(at + 24);
                    var flags = memory.ReadInt16(at + 40);
                    if ((flags & SubscriptionClockAbstime) != 0)
                    {
                        if (clockId != ClockRealtime)
                        {
                            // The guest's monotonic origin is Wasmtime's, which the host cannot read.
                            return ErrnoNotSupported;
                        }

                        var nowNanoseconds = (ulong)(DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;
                        timeout = timeout > nowNanoseconds ? timeout - nowNanoseconds : 0;
                    }

                    clockEvents.Add((userData, TimeSpan.FromTicks((long)Math.Min(timeout / 100, (ulong)TimeSpan.MaxValue.Ticks))));
                    break;
                case EventFdRead:
                case EventFdWrite:
                    fdEvents.Add((userData, tag));
                    break;
                default:
                    return ErrnoInvalid;
            }
        }

        var written = 0;
        if (fdEvents.Count > 0)
        {
            foreach (var (userData, type) in fdEvents)
            {
                WriteEvent(memory, (uint)events + ((long)written++ * EventSize), userData, type);
            }
        }
        else
        {
            var wait = clockEvents.Min(c => c.Wait);
            var capped = wait > TimeSpan.FromMilliseconds(int.MaxValue) ? TimeSpan.FromMilliseconds(int.MaxValue) : wait;
            if (capped > TimeSpan.Zero && cancellation.WaitHandle.WaitOne(capped))
            {
                return ErrnoInterrupted;
            }

            foreach (var (userData, _) in clockEvents.Where(c => c.Wait <= wait))
            {
                WriteEvent(memory, (uint)events + ((long)written++ * EventSize), userData, EventClock);
            }
        }

        memory.WriteInt32((uint)eventCountPointer, written);
        return ErrnoSuccess;
    }

    private static void WriteEvent(Memory memory, long at, long userData, byte type)
    {
        memory.WriteInt64(at, userData);
        memory.WriteInt16(at + 8, ErrnoSuccess);
        memory.WriteByte(at + 10, type);
        memory.WriteInt64(at + 16, 0);
        memory.WriteInt16(at + 24, 0);
    }

    private static bool InBounds(int pointer, long size, long length) => (uint)pointer + size <= length;
}
