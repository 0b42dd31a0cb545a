namespace Tenzro.Node.Core.Tasks;

/// <summary>
/// The most memory a task's sandbox held, as its runtime measured it (a Wasm module's linear memory); <see cref="Bytes"/>
/// stays null for a runtime that cannot measure it. The cost model learns each module's memory from it.
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed class TaskMemoryPeak
{
    private long _bytes = -1;

    public long? Bytes => Interlocked.Read(ref _bytes) is var bytes and >= 0 ? bytes : null;

    /// <summary>Keeps <paramref name="bytes"/> when it is above what was seen so far.</summary>
    public void Observe(long bytes)
    {
        long current;
        do
        {
            current = Interlocked.Read(ref _bytes);
            if (bytes <= current)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _bytes, bytes, current) != current);
    }
}
