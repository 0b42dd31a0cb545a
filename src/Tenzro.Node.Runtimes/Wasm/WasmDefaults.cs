namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>The documented defaults and ceilings of the <c>compute</c> sandbox (docs/TASKS.md, "compute").</summary>
internal static class WasmDefaults
{
    /// <summary>Fuel when <c>config.fuel</c> is absent: about a few seconds of straight-line code on a current core.</summary>
    public const ulong Fuel = 10_000_000_000;

    /// <summary>Bytes kept of stdout, and of stderr, when <c>config.maxOutputBytes</c> is absent (1 MiB each).</summary>
    public const int MaxOutputBytes = 1 << 20;

    /// <summary>The most <c>config.maxOutputBytes</c> may ask for (16 MiB per stream): the result is stored and relayed as JSON.</summary>
    public const int MaxOutputBytesCeiling = 16 << 20;

    /// <summary>Elements a table may grow to when <c>config.maxTableElements</c> is absent.</summary>
    public const uint MaxTableElements = 100_000;

    /// <summary>The most <c>config.maxTableElements</c> may ask for.</summary>
    public const uint MaxTableElementsCeiling = 10_000_000;

    /// <summary>The WebAssembly call stack (Wasmtime's <c>max_wasm_stack</c>); deeper recursion traps with a stack overflow.</summary>
    public const int WasmStackBytes = 1 << 20;

    /// <summary>The native stack of the thread that runs a module; larger than <see cref="WasmStackBytes"/> plus host frames.</summary>
    public const int HostThreadStackBytes = 8 << 20;

    /// <summary>
    /// How often the engine-wide epoch advances: the resolution of timeouts, cancellation, output and
    /// scratch-size checks, each made at every epoch.
    /// </summary>
    public static readonly TimeSpan EpochInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>Compiled modules kept in memory (least recently used first out).</summary>
    public const int MemoryCacheModules = 64;
}
