using Wasmtime;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>What a run's host functions need from their task, kept as the data of the run's store.</summary>
internal sealed class WasmCallState(CancellationToken cancellation, IProgress<double> progress)
{
    public CancellationToken Cancellation { get; } = cancellation;

    public IProgress<double> Progress { get; } = progress;

    /// <summary>The last progress reported, so that a module calling often reports only real changes.</summary>
    public double LastProgress { get; set; } = -1;

    /// <summary>The state of the store a host function was called from.</summary>
    public static WasmCallState Of(Caller caller) =>
        caller.GetData() as WasmCallState ?? throw new InvalidOperationException("a Wasm store runs without its task's call state");
}

/// <summary>
/// The linkers every run instantiates through, made once per engine: WASI preview 1, the <see cref="WasiShims"/> (one
/// linker for each choice of <c>config.wasiClock</c> and <c>config.wasiRandom</c>) and <c>tenzro.progress</c>. Their
/// host functions read the task they serve from the store's <see cref="WasmCallState"/>, so no run defines
/// functions of its own: defining them took a run longer than instantiating and calling a small module.
/// </summary>
/// <remarks>Thread-safe: a linker is only read by instantiation, which Wasmtime allows from several threads at once.</remarks>
internal sealed class WasmLinkers(Engine engine)
{
    private readonly Lazy<Linker>[] _linkers = [.. Enumerable.Range(0, 4).Select(i => new Lazy<Linker>(() => Make(engine, clocks: (i & 1) != 0, random: (i & 2) != 0)))];

    public Linker For(bool clocks, bool random) => _linkers[(clocks ? 1 : 0) | (random ? 2 : 0)].Value;

    private static Linker Make(Engine engine, bool clocks, bool random)
    {
        var linker = new Linker(engine);
        linker.DefineWasi();
        WasiShims.Define(linker, clocks, random);
        linker.DefineFunction("tenzro", "progress", (Caller caller, double value) => ReportProgress(WasmCallState.Of(caller), value));
        return linker;
    }

    private static void ReportProgress(WasmCallState state, double value)
    {
        if (double.IsNaN(value))
        {
            return;
        }

        var clamped = Math.Clamp(value, 0, 1);
        if (Math.Abs(clamped - state.LastProgress) < 0.001 && clamped < 1)
        {
            return;
        }

        state.LastProgress = clamped;
        state.Progress.Report(clamped);
    }
}
