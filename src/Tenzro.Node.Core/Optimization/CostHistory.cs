namespace Tenzro.Node.Core.Optimization;

/// <summary>
/// What measured runs of one module, model or task type taught: the correction of the benchmark estimate (as
/// BOINC's duration correction factor, kept as a mean of logarithms so that one slow run does not dominate), the
/// typical duration where there is no benchmark estimate, and the typical peak memory.
/// </summary>
/// <param name="Key">See <see cref="TaskCostInput.Key"/>.</param>
/// <param name="Runs">Completed runs measured.</param>
/// <param name="LogRatio">Mean of ln(actual ÷ benchmark estimate) over the runs that had one; null when none had.</param>
/// <param name="LogDurationMs">Mean of ln(actual ms).</param>
/// <param name="PeakMemoryMB">Mean measured peak memory; null when the runtime does not measure it.</param>
/// <param name="UpdatedAt">When the last run was recorded.</param>
public sealed record CostHistory(string Key, int Runs, double? LogRatio, double LogDurationMs, double? PeakMemoryMB, DateTimeOffset UpdatedAt)
{
    /// <summary>The smallest weight a new run gets: a plain mean over the first 10 runs, then a moving average that follows a module whose work changes.</summary>
    public const double MinWeight = 0.1;

    /// <summary>This history with one more run: <paramref name="actualMs"/> against <paramref name="benchmarkMs"/> (null when there was no benchmark estimate).</summary>
    public static CostHistory Add(CostHistory? history, string key, double? benchmarkMs, double actualMs, double? peakMemoryMB, DateTimeOffset at)
    {
        var actual = Math.Max(actualMs, 0.01);
        var ratio = benchmarkMs is > 0 ? Math.Log(actual / benchmarkMs.Value) : (double?)null;
        if (history is null)
        {
            return new CostHistory(key, 1, ratio, Math.Log(actual), peakMemoryMB, at);
        }

        var runs = history.Runs + 1;
        var weight = Math.Max(1.0 / runs, MinWeight);
        return new CostHistory(
            key,
            runs,
            Blend(history.LogRatio, ratio, weight),
            history.LogDurationMs + ((Math.Log(actual) - history.LogDurationMs) * weight),
            Blend(history.PeakMemoryMB, peakMemoryMB, weight),
            at);
    }

    private static double? Blend(double? mean, double? sample, double weight) => (mean, sample) switch
    {
        (null, _) => sample,
        (_, null) => mean,
        ({ } m, { } s) => m + ((s - m) * weight),
    };
}
