using System.Reflection;
using System.Runtime.InteropServices;
using Wasmtime;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>
/// The process's one Wasmtime <see cref="Wasmtime.Engine"/> (fuel and epoch interruption on, made on first use) and
/// its epoch ticker: a single background thread that advances the epoch every <see cref="WasmDefaults.EpochInterval"/>
/// while at least one execution is active, and sleeps otherwise. Every store checks its task's
/// cancellation, output and scratch limits at each epoch.
/// </summary>
/// <remarks>
/// Thread-safe. Lives for the whole process (compiled modules and the <c>.cwasm</c> cache are tied to the
/// engine's configuration), so it is never disposed.
/// </remarks>
internal sealed class WasmEngine
{
    private static readonly Lazy<WasmEngine> s_shared = new(() => new WasmEngine(), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly object _gate = new();
    private readonly Lazy<Engine> _engine;
    private readonly Lazy<WasmLinkers> _linkers;
    private int _executions;
    private long _epoch;

    private WasmEngine()
    {
        var version = typeof(Engine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(Engine).Assembly.GetName().Version?.ToString()
            ?? "unknown";
        Version = version;
        CacheKey = $"wasmtime {version}; {RuntimeInformation.OSArchitecture}; fuel; epoch; stack {WasmDefaults.WasmStackBytes}";
        _engine = new(CreateEngine, LazyThreadSafetyMode.ExecutionAndPublication);
        _linkers = new(() => new WasmLinkers(Engine), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public static WasmEngine Shared => s_shared.Value;

    /// <summary>
    /// The Wasmtime engine, made with its epoch ticker on first use (the first Wasm task or module compile), so that a
    /// node that runs no Wasm neither loads Wasmtime's native library nor keeps its thread.
    /// </summary>
    public Engine Engine => _engine.Value;

    /// <summary>The linkers with WASI and the node's host functions defined, shared by every run.</summary>
    public WasmLinkers Linkers => _linkers.Value;

    /// <summary>The Wasmtime version, as its .NET package reports it.</summary>
    public string Version { get; }

    /// <summary>What a compiled module depends on besides its bytes: part of every <c>.cwasm</c> cache key.</summary>
    public string CacheKey { get; }

    /// <summary>Epochs ticked since start, for diagnostics.</summary>
    public long Epoch => Interlocked.Read(ref _epoch);

    /// <summary>Keeps the ticker running until the returned handle is disposed.</summary>
    public IDisposable BeginExecution()
    {
        lock (_gate)
        {
            if (_executions++ == 0)
            {
                Monitor.PulseAll(_gate);
            }
        }

        return new ExecutionHandle(this);
    }

    private void EndExecution()
    {
        lock (_gate)
        {
            _executions--;
        }
    }

    private Engine CreateEngine()
    {
        var config = new Config()
            .WithFuelConsumption(true)
            .WithEpochInterruption(true)
            .WithMaximumStackSize(WasmDefaults.WasmStackBytes);
        var engine = new Engine(config);
        var ticker = new Thread(() => Tick(engine)) { IsBackground = true, Name = "wasm epoch" };
        ticker.Start();
        return engine;
    }

    private void Tick(Engine engine)
    {
        while (true)
        {
            lock (_gate)
            {
                while (_executions == 0)
                {
                    Monitor.Wait(_gate);
                }
            }

            Thread.Sleep(WasmDefaults.EpochInterval);
            engine.IncrementEpoch();
            Interlocked.Increment(ref _epoch);
        }
    }

    private sealed class ExecutionHandle(WasmEngine engine) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                engine.EndExecution();
            }
        }
    }
}
