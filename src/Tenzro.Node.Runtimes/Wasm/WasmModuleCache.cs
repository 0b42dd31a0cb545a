using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Wasmtime;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>
/// Compiled modules by the sha256 of their binary: a bounded in-memory LRU in front of serialized modules
/// under <c>{DATA_DIR}/wasm-cache/&lt;key&gt;.cwasm</c>, so that neither a second run nor a restart compiles again.
/// The file key is the sha256 of the engine's <see cref="WasmEngine.CacheKey"/> (Wasmtime version, architecture,
/// settings) and the module hash, so an upgrade never loads code compiled by another version.
/// </summary>
/// <remarks>
/// Thread-safe; concurrent misses of one module may both compile it, and the first to finish is kept.
/// A <c>.cwasm</c> file is native code that is loaded as is: DATA_DIR must be writable only by the node.
/// A module evicted from memory is released once the executions that hold it end.
/// </remarks>
internal sealed partial class WasmModuleCache
{
    private const string Extension = ".cwasm";

    private readonly WasmEngine _engine;
    private readonly ILogger _logger;
    private readonly int _memoryCapacity;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, LinkedListNode<(string Hash, Module Module)>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Hash, Module Module)> _recency = new();
    private long _memoryHits;
    private long _diskHits;
    private long _compilations;

    public WasmModuleCache(WasmEngine engine, string directory, ILogger<WasmModuleCache> logger, int memoryCapacity = WasmDefaults.MemoryCacheModules, long diskCapacityBytes = WasmCacheChoice.MinDiskMB << 20)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(memoryCapacity, 1);
        _engine = engine;
        _logger = logger;
        _memoryCapacity = memoryCapacity;
        DiskCapacityBytes = diskCapacityBytes;
        Directory = directory;
        System.IO.Directory.CreateDirectory(directory);
    }

    /// <summary>Bytes of <c>.cwasm</c> files kept (least recently used first out): WASM_CACHE_MB or its rule.</summary>
    public long DiskCapacityBytes { get; }

    /// <summary>The folder of <c>.cwasm</c> files.</summary>
    public string Directory { get; }

    /// <summary>Modules found compiled in memory.</summary>
    public long MemoryHits => Interlocked.Read(ref _memoryHits);

    /// <summary>Modules loaded from a <c>.cwasm</c> file instead of compiled.</summary>
    public long DiskHits => Interlocked.Read(ref _diskHits);

    /// <summary>Modules compiled from their binary.</summary>
    public long Compilations => Interlocked.Read(ref _compilations);

    /// <summary>The <c>.cwasm</c> file of the module with binary hash <paramref name="sha256"/> (which may not exist).</summary>
    public string PathOf(string sha256)
    {
        var key = SHA256.HashData(Encoding.UTF8.GetBytes($"{_engine.CacheKey}\n{sha256}"));
        return Path.Combine(Directory, Convert.ToHexStringLower(key) + Extension);
    }

    /// <summary>The compiled module whose sha256 is <paramref name="sha256"/> when it is in memory; null, without reading the disk, when not.</summary>
    public Module? Cached(string sha256)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(sha256, out var node))
            {
                return null;
            }

            _recency.Remove(node);
            _recency.AddFirst(node);
            Interlocked.Increment(ref _memoryHits);
            return node.Value.Module;
        }
    }

    /// <summary>
    /// The compiled module for <paramref name="wasm"/>, whose sha256 is <paramref name="sha256"/>. Throws
    /// <see cref="WasmTaskException"/> (<see cref="WasmFailure.NotWasm"/>) when the bytes are not a valid module.
    /// </summary>
    public Module GetOrCompile(string sha256, ReadOnlySpan<byte> wasm)
    {
        if (Cached(sha256) is { } cached)
        {
            return cached;
        }

        var path = PathOf(sha256);
        var module = TryLoad(sha256, path);
        if (module is not null)
        {
            Interlocked.Increment(ref _diskHits);
        }
        else
        {
            module = Compile(sha256, wasm);
            Interlocked.Increment(ref _compilations);
            Save(module, path);
        }

        return Remember(sha256, module);
    }

    private Module? TryLoad(string sha256, string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            var module = Module.DeserializeFile(_engine.Engine, sha256, path);
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
            return module;
        }
        catch (Exception e) when (e is WasmtimeException or IOException or UnauthorizedAccessException)
        {
            // A file from another Wasmtime build or a damaged one: compile again and replace it.
            Log.CacheEntryDiscarded(_logger, e, path);
            TryDelete(path);
            return null;
        }
    }

    private Module Compile(string sha256, ReadOnlySpan<byte> wasm)
    {
        if (wasm.Length < 8 || !wasm[..4].SequenceEqual("\0asm"u8))
        {
            var start = Convert.ToHexStringLower(wasm[..Math.Min(wasm.Length, 8)]);
            throw new WasmTaskException(WasmFailure.NotWasm, $"not a WebAssembly module: the {wasm.Length} bytes do not begin with the magic number 0061736d (they begin {start})");
        }

        try
        {
            return Module.FromBytes(_engine.Engine, sha256, wasm);
        }
        catch (WasmtimeException e)
        {
            var cause = WasmFailures.Cause(e.Message);
            var invalid = $"WebAssembly module '{sha256}' is not valid: ";
            throw new WasmTaskException(WasmFailure.NotWasm, $"not a WebAssembly module: {(cause.StartsWith(invalid, StringComparison.Ordinal) ? cause[invalid.Length..] : cause)}", e);
        }
    }

    private void Save(Module module, string path)
    {
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            var bytes = module.Serialize();
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is WasmtimeException or IOException or UnauthorizedAccessException)
        {
            // The module still runs; only the next start compiles it again.
            Log.CacheWriteFailed(_logger, e, path);
            TryDelete(temporary);
            return;
        }

        Trim();
    }

    /// <summary>Deletes the least recently used files while the folder holds more than its capacity.</summary>
    private void Trim()
    {
        try
        {
            var files = new DirectoryInfo(Directory).GetFiles("*" + Extension);
            var total = files.Sum(f => f.Length);
            foreach (var file in files.OrderBy(f => f.LastWriteTimeUtc))
            {
                if (total <= DiskCapacityBytes)
                {
                    break;
                }

                total -= file.Length;
                file.Delete();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.CacheTrimFailed(_logger, e, Directory);
        }
    }

    private Module Remember(string sha256, Module module)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(sha256, out var existing))
            {
                return existing.Value.Module;
            }

            _entries[sha256] = _recency.AddFirst((sha256, module));
            while (_entries.Count > _memoryCapacity)
            {
                var last = _recency.Last!;
                _recency.RemoveLast();
                _entries.Remove(last.Value.Hash);
            }

            return module;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the next trim.
        }
    }
}
