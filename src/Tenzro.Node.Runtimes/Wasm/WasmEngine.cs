using System.Reflection;
using System.Runtime.InteropServices;
using Wasmtime;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>
/// The process's one Wasmtime <see cref="Wasmtime.Engine"/> (fuel and epoch interruption on) and its epoch
/// ticker: a single background thread that advances the epoch every <see cref="WasmDefaults.EpochInterval"/>
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
    private int _executions;
    private long _epoch;

    private WasmEngine()
    {
        var config = new Config()
            .WithFuelConsumption(true)
            .WithEpochInterruption(true)
            .WithMaximumStackSize(WasmDefaults.WasmStackBytes);
        Engine = new Engine(config);
        Linkers = new WasmLinkers(Engine);

        var version = typeof(Engine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(Engine).Assembly.GetName().Version?.ToString()
            ?? "unknown";
        Version = version;
        CacheKey = $"wasmtime {version}; {RuntimeInformation.OSArchitecture}; fuel; epoch; stack {WasmDefaults.WasmStackBytes}";

        var ticker = new Thread(Tick) { IsBackground = true, Name = "wasm epoch" };
        ticker.Start();
    }

    public static WasmEngine Shared => s_shared.Value;

    public Engine Engine { get; }

    /// <summary>The linkers with WASI and the node's host functions defined, shared by every run.</summary>
    public WasmLinkers Linkers { get; }

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

    private void Tick()
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
            Engine.IncrementEpoch();
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
