namespace Tenzro.Node.Core.Optimization;

/// <summary>What the cost model knows of a task before it runs.</summary>
/// <param name="Key">What its history is kept under: the content hash of its Wasm module (<c>wasm:</c>) or model
/// (<c>model:</c>), else its type (<c>type:</c>).</param>
/// <param name="WorkOps">The operations it declares (a Wasm task's fuel budget, a model's weights per input set); null when it declares none.</param>
/// <param name="Benchmark">The benchmark (ops/s) the operations are divided by.</param>
public sealed record TaskCostInput(string Key, double? WorkOps, string Benchmark = TaskCostInput.IntegerSpeed)
{
    /// <summary>
    /// What the same work again is kept under: <see cref="Key"/> with what the call is given (a Wasm call's entry,
    /// arguments, command line, environment and stdin; the shapes of a model's inputs); null when the key alone says
    /// it (a task known only by its type). Only a history of the same call may refuse a task.
    /// </summary>
    public string? CallKey { get; init; }

    /// <summary>
    /// True when <see cref="WorkOps"/> is the work itself (a model's multiply-adds), so that what runs of other
    /// amounts of work measured carries over in proportion; false when it is only a bound on the work (a Wasm task's
    /// fuel budget), which then gives the first estimate and nothing after.
    /// </summary>
    public bool WorkScales { get; init; } = true;

    /// <summary>Time the work takes beside its operations, whatever the benchmark (a model's operators, each dispatched once a run), in ms.</summary>
    public double FixedMs { get; init; }

    /// <summary>The <see cref="CallKey"/> of <paramref name="call"/> (what a call is given, as text) under <paramref name="key"/>: the first 128 bits of its sha256, in hex.</summary>
    public static string CallKeyOf(string key, string call) =>
        key + "#" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(call))[..16]);

    /// <summary>Integer operations a second on one core: Wasm instructions.</summary>
    public const string IntegerSpeed = "cpuIntegerSingleCore";

    /// <summary>Floating-point operations a second on one core: a model's multiply-adds.</summary>
    public const string FloatSpeed = "cpuFloatSingleCore";

    /// <summary>A task known only by its type.</summary>
    public static TaskCostInput OfType(string type) => new("type:" + type, null);
}

/// <summary>Where an estimate comes from (CONTRACTS.md "Optimization").</summary>
public static class EstimateBasis
{
    /// <summary>The task's declared work at the benchmarked speed; no run of it has been measured yet.</summary>
    public const string Benchmark = "benchmark";

    /// <summary>Measured runs of the same module, model or type.</summary>
    public const string History = "history";
}

/// <summary>A task's predicted duration and peak memory.</summary>
/// <param name="DurationMs">Run time, in ms.</param>
/// <param name="MemoryMB">Peak memory, in MB.</param>
/// <param name="Basis">One of <see cref="EstimateBasis"/>.</param>
/// <param name="Runs">Measured runs behind a history estimate; 0 for a benchmark one.</param>
public sealed record TaskEstimate(double DurationMs, long MemoryMB, string Basis, int Runs)
{
    /// <summary>True when the history behind it is of the same call (<see cref="TaskCostInput.CallKey"/>), not only of the same module or model.</summary>
    public bool SameCall { get; init; }
}

