using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// Loaded <see cref="InferenceSession"/>s, kept so that the next task on the same model does not load it
/// again. Bounded by the memory the sessions take: each is charged what loading it was measured to add to the
/// process (at least its model file's size), or its file size where no measure is given; the least recently
/// used session goes first. One session exists per model, thread count and execution provider.
/// </summary>
/// <remarks>
/// Thread-safe. A session is shared by concurrent tasks (ONNX Runtime allows concurrent <c>Run</c> calls);
/// an evicted session is disposed when its last lease is returned. A model larger than the whole budget
/// is loaded for its task and not kept.
/// </remarks>
internal sealed class SessionCache : IDisposable
{
    /// <summary>The default budget: 512 MiB of model files.</summary>
    public const long DefaultCapacityBytes = 512L * 1024 * 1024;

    private readonly Lock _lock = new();
    private readonly LinkedList<Entry> _order = new();
    private readonly Dictionary<SessionKey, LinkedListNode<Entry>> _entries = [];
    private long _bytes;
    private long _hits;
    private long _loads;
    private long _evictions;
    private readonly Func<long>? _measureMemory;
    private bool _disposed;

    /// <param name="capacityBytes">The budget.</param>
    /// <param name="measureMemory">The process's memory now (its resident set); read before and after each load to size the session.</param>
    public SessionCache(long capacityBytes = DefaultCapacityBytes, Func<long>? measureMemory = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacityBytes);
        CapacityBytes = capacityBytes;
        _measureMemory = measureMemory;
    }

    public long CapacityBytes { get; }

    /// <summary>Acquisitions served by a session that was already loaded.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Sessions created.</summary>
    public long Loads => Interlocked.Read(ref _loads);

    public long Evictions => Interlocked.Read(ref _evictions);

    /// <summary>
    /// A session for <paramref name="key"/>, loaded with <paramref name="load"/> unless one is cached.
    /// Concurrent callers for the same key wait for one load. Dispose the lease when the run is done.
    /// </summary>
    /// <param name="key">The model and the session options that matter.</param>
    /// <param name="sizeBytes">The model file size, charged against the budget.</param>
    /// <param name="load">Creates the session; its exceptions reach the caller and nothing is cached.</param>
    public SessionLease Acquire(SessionKey key, long sizeBytes, Func<InferenceSession> load)
    {
        Entry entry;
        List<Entry> evicted = [];
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_entries.TryGetValue(key, out var node))
            {
                _order.Remove(node);
                _order.AddFirst(node);
                entry = node.Value;
                Interlocked.Increment(ref _hits);
            }
            else
            {
                entry = new Entry(key, sizeBytes);
                entry.Session = new Lazy<InferenceSession>(Measured(entry, load), LazyThreadSafetyMode.ExecutionAndPublication);
                Interlocked.Increment(ref _loads);
                if (sizeBytes <= CapacityBytes)
                {
                    while (_bytes + sizeBytes > CapacityBytes && _order.Last is { } last)
                    {
                        evicted.Add(RemoveLocked(last));
                    }

                    _entries[key] = _order.AddFirst(entry);
                    _bytes += sizeBytes;
                }
                else
                {
                    entry.Removed = true;
                }
            }

            entry.Leases++;
        }

        DisposeUnused(evicted);
        try
        {
            var session = entry.Session.Value;
            return new SessionLease(() => Release(entry), session);
        }
        catch
        {
            lock (_lock)
            {
                if (_entries.TryGetValue(key, out var node) && node.Value == entry)
                {
                    RemoveLocked(node);
                }

                entry.Leases--;
            }

            throw;
        }
    }

    /// <summary>Drops every session of <paramref name="sha256"/> (the model was deleted).</summary>
    public void Evict(string sha256)
    {
        List<Entry> evicted = [];
        lock (_lock)
        {
            foreach (var node in _entries.Values.Where(n => n.Value.Key.Sha256 == sha256).ToList())
            {
                evicted.Add(RemoveLocked(node));
            }
        }

        DisposeUnused(evicted);
    }

    public JsonObject ToJson()
    {
        lock (_lock)
        {
            return new JsonObject
            {
                ["sessions"] = _entries.Count,
                ["bytes"] = _bytes,
                ["capacityBytes"] = CapacityBytes,
                ["hits"] = Hits,
                ["loads"] = Loads,
                ["evictions"] = Evictions,
            };
        }
    }

    public void Dispose()
    {
        List<Entry> all;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            all = [.. _order.Select(e => e)];
            foreach (var entry in all)
            {
                entry.Removed = true;
            }

            _order.Clear();
            _entries.Clear();
            _bytes = 0;
        }

        DisposeUnused(all);
    }

    /// <summary><paramref name="load"/>, charging the entry what the load was measured to take once it is done.</summary>
    private Func<InferenceSession> Measured(Entry entry, Func<InferenceSession> load)
    {
        if (_measureMemory is not { } measure)
        {
            return load;
        }

        return () =>
        {
            var before = measure();
            var session = load();
            Charge(entry, measure() - before);
            return session;
        };
    }

    private void Charge(Entry entry, long measuredBytes)
    {
        List<Entry> evicted = [];
        lock (_lock)
        {
            var size = Math.Max(entry.SizeBytes, measuredBytes);
            if (entry.Removed || size == entry.SizeBytes)
            {
                entry.SizeBytes = size;
                return;
            }

            _bytes += size - entry.SizeBytes;
            entry.SizeBytes = size;
            while (_bytes > CapacityBytes && _order.Last is { } last)
            {
                evicted.Add(RemoveLocked(last));
            }
        }

        DisposeUnused(evicted);
    }

    private Entry RemoveLocked(LinkedListNode<Entry> node)
    {
        _order.Remove(node);
        _entries.Remove(node.Value.Key);
        _bytes -= node.Value.SizeBytes;
        node.Value.Removed = true;
        Interlocked.Increment(ref _evictions);
        return node.Value;
    }

    private void Release(Entry entry)
    {
        bool dispose;
        lock (_lock)
        {
            entry.Leases--;
            dispose = entry.Removed && entry.Leases == 0;
        }

        if (dispose)
        {
            DisposeSession(entry);
        }
    }

    private void DisposeUnused(List<Entry> entries)
    {
        foreach (var entry in entries)
        {
            bool dispose;
            lock (_lock)
            {
                dispose = entry.Leases == 0;
            }

            if (dispose)
            {
                DisposeSession(entry);
            }
        }
    }

    private static void DisposeSession(Entry entry)
    {
        if (entry.Session.IsValueCreated)
        {
            entry.Session.Value.Dispose();
        }
    }

    private sealed class Entry(SessionKey key, long sizeBytes)
    {
        public SessionKey Key { get; } = key;

        /// <summary>Guarded by the cache's lock: the file size, then what the load was measured to take.</summary>
        public long SizeBytes { get; set; } = sizeBytes;

        public Lazy<InferenceSession> Session { get; set; } = null!;

        /// <summary>Guarded by the cache's lock.</summary>
        public int Leases { get; set; }

        /// <summary>Guarded by the cache's lock: out of the cache, to be disposed at the last release.</summary>
        public bool Removed { get; set; }
    }

    /// <summary>Use of one cached session; dispose it when the run is done (exactly once).</summary>
    internal sealed class SessionLease : IDisposable
    {
        private Action? _release;

        internal SessionLease(Action release, InferenceSession session)
        {
            _release = release;
            Session = session;
        }

        public InferenceSession Session { get; }

        public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();
    }
}

/// <summary>What makes two sessions interchangeable: the model, the intra-op thread count and the provider.</summary>
internal readonly record struct SessionKey(string Sha256, int Threads, bool Cuda);
