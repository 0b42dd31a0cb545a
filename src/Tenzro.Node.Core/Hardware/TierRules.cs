using System.Globalization;

namespace Tenzro.Node.Core.Hardware;

/// <summary>
/// The qualified tier of CONTRACTS.md "Tiers": <c>training</c> needs a usable GPU with at least 8 GB or at
/// least 16 usable cores and 64 GB; <c>aggregator</c> at least 4 usable cores and 8 GB; otherwise <c>inference</c>.
/// </summary>
public static class TierRules
{
    public static readonly string[] Ranked = ["inference", "aggregator", "training", "feedback"];

    private const double Gb = 1024.0 * 1024 * 1024;

    public static string Qualify(double usableCores, long usableMemoryBytes, long largestUsableGpuMemoryBytes)
    {
        if (largestUsableGpuMemoryBytes >= 8 * Gb || (usableCores >= 16 && usableMemoryBytes >= 64 * Gb))
        {
            return "training";
        }

        return usableCores >= 4 && usableMemoryBytes >= 8 * Gb ? "aggregator" : "inference";
    }

    /// <summary>Rank of a tier (inference 1 … feedback 4); 0 for an unknown name.</summary>
    public static int Rank(string tier) => Array.IndexOf(Ranked, tier) + 1;

    /// <summary>
    /// The figures that keep this machine from <paramref name="configuredTier"/>, each naming what it has and
    /// what the tier needs; empty when the tier is met. The feedback tier is assigned by the network, not
    /// measured, so it never falls short here.
    /// </summary>
    public static IReadOnlyList<string> Shortfalls(string configuredTier, double usableCores, long usableMemoryBytes, long largestUsableGpuMemoryBytes)
    {
        ArgumentNullException.ThrowIfNull(configuredTier);
        if (configuredTier == "feedback" || Rank(configuredTier) <= Rank(Qualify(usableCores, usableMemoryBytes, largestUsableGpuMemoryBytes)))
        {
            return [];
        }

        var (cores, memoryGb) = configuredTier == "training" ? (16, 64) : (4, 8);
        var shortfalls = new List<string>();
        if (configuredTier == "training")
        {
            shortfalls.Add(largestUsableGpuMemoryBytes > 0
                ? string.Create(CultureInfo.InvariantCulture, $"largest usable GPU has {largestUsableGpuMemoryBytes / Gb:0.#} GB (training needs 8 GB)")
                : "no usable GPU (training needs one with at least 8 GB, or 16 cores and 64 GB)");
        }

        if (usableCores < cores)
        {
            shortfalls.Add(string.Create(CultureInfo.InvariantCulture, $"{usableCores:0.##} usable cores ({configuredTier} needs {cores})"));
        }

        if (usableMemoryBytes < memoryGb * Gb)
        {
            shortfalls.Add(string.Create(CultureInfo.InvariantCulture, $"{usableMemoryBytes / Gb:0.#} GB usable memory ({configuredTier} needs {memoryGb} GB)"));
        }

        return shortfalls;
    }

    /// <summary>What a tier needs, in words, for warnings that name the figures that fall short.</summary>
    public static string Requirement(string tier) => tier switch
    {
        "training" => "a usable GPU with at least 8 GB, or at least 16 usable cores and 64 GB of memory",
        "aggregator" => "at least 4 usable cores and 8 GB of memory",
        "feedback" => "the feedback tier is assigned by the network, not measured",
        _ => "nothing beyond the minimum requirements",
    };
}
