using Microsoft.ML.OnnxRuntime;
using Tenzro.Node.ModelGen;
using Tenzro.Node.Runtimes.Onnx;

namespace Tenzro.Node.Tests.Runtimes.Onnx;

[Trait("Suite", "inference")]
public sealed class SessionCacheTests
{
    private static readonly byte[] Model = TestModels.Linear();

    [Fact]
    public void Acquire_SameKeyTwice_LoadsOnce()
    {
        using var cache = new SessionCache(1024 * 1024);
        var loads = 0;

        using (cache.Acquire(Key("a"), 100, () => Load(ref loads)))
        {
        }

        using var second = cache.Acquire(Key("a"), 100, () => Load(ref loads));

        Assert.Equal(1, loads);
        Assert.Equal(1, cache.Hits);
        Assert.Equal(1, cache.Loads);
    }

    [Fact]
    public void Acquire_OverCapacity_EvictsTheLeastRecentlyUsed()
    {
        using var cache = new SessionCache(250);
        var loads = 0;
        cache.Acquire(Key("a"), 100, () => Load(ref loads)).Dispose();
        cache.Acquire(Key("b"), 100, () => Load(ref loads)).Dispose();
        cache.Acquire(Key("a"), 100, () => Load(ref loads)).Dispose();

        cache.Acquire(Key("c"), 100, () => Load(ref loads)).Dispose();
        cache.Acquire(Key("a"), 100, () => Load(ref loads)).Dispose();
        cache.Acquire(Key("b"), 100, () => Load(ref loads)).Dispose();

        // a, b, a (hit), c evicts b, a (hit), b reloads and evicts c.
        Assert.Equal(4, loads);
        Assert.Equal(2, cache.Hits);
        Assert.Equal(2, cache.Evictions);
    }

    [Fact]
    public void Evict_WhileLeased_KeepsTheSessionUsableUntilReleased()
    {
        using var cache = new SessionCache(1024 * 1024);
        var loads = 0;
        using var lease = cache.Acquire(Key("a"), 100, () => Load(ref loads));

        cache.Evict("a");
        var inputs = lease.Session.InputNames;
        cache.Acquire(Key("a"), 100, () => Load(ref loads)).Dispose();

        Assert.Equal(["x"], inputs);
        Assert.Equal(2, loads);
    }

    [Fact]
    public void Acquire_LoadFails_CachesNothingAndRethrows()
    {
        using var cache = new SessionCache(1024 * 1024);

        Assert.Throws<InvalidOperationException>(() => cache.Acquire(Key("a"), 100, () => throw new InvalidOperationException("bad")));
        var loads = 0;
        cache.Acquire(Key("a"), 100, () => Load(ref loads)).Dispose();

        Assert.Equal(1, loads);
        Assert.Equal(0, cache.Hits);
    }

    [Fact]
    public void Acquire_WithAMeasure_ChargesWhatTheLoadTookNotTheFileSize()
    {
        // Each load "takes" 600 bytes of memory although the model files are 100 bytes: two do not fit in 1,000.
        long memory = 0;
        using var cache = new SessionCache(1000, measureMemory: () => memory);
        var loads = 0;
        InferenceSession Grow()
        {
            memory += 600;
            return Load(ref loads);
        }

        cache.Acquire(Key("a"), 100, Grow).Dispose();
        cache.Acquire(Key("b"), 100, Grow).Dispose();
        cache.Acquire(Key("a"), 100, Grow).Dispose();

        Assert.Equal(3, loads);
        Assert.Equal(2, cache.Evictions);
        Assert.Equal(600, cache.ToJson()["bytes"]!.GetValue<long>());
    }

    private static SessionKey Key(string sha256) => new(sha256, 1, false);

    private static InferenceSession Load(ref int loads)
    {
        loads++;
        return new InferenceSession(Model);
    }
}
