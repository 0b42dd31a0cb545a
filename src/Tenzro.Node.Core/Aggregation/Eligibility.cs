using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Core.Aggregation;

/// <summary>One entry of <c>GET /api/aggregation/candidates</c>: a linked peer and the criteria it failed.</summary>
public sealed record Candidate(string Id, bool Eligible, IReadOnlyList<string> Failed, double? RttMs, IReadOnlyList<string> Warnings);

/// <summary>
/// Who may share a group with this node (docs/AGGREGATION.md "Eligibility"), judged from the signed record a peer
/// proved in its hello and the measured round trip of its link. The criteria, named as <c>failed</c> names them:
/// <list type="bullet">
/// <item><c>tier</c>: the configured tier (<c>NODE_TIER</c>, as the regional join sends it) ranks at least
/// <c>MIN_AGGREGATION_TIER</c>. A configured tier above the qualified one is a warning only.</item>
/// <item><c>arch</c>: the same CPU architecture as this node, so native work runs on every member.</item>
/// <item><c>resources</c>: at least <see cref="MinFreeCpuCores"/> free cores, <see cref="MinFreeMemoryMB"/> MB of
/// memory and <see cref="MinFreeStorageMB"/> MB of storage free.</item>
/// <item><c>proximity</c>: the median of the last five link round trips under <see cref="MaxMedianRttMs"/>.</item>
/// <item><c>gpu</c>: only when the group's work needs a GPU (<c>GPU_REQUIRED=true</c> on this node, whose own work
/// then runs on one): the peer's record shows at least one free GPU.</item>
/// </list>
/// </summary>
/// <remarks>Pure functions: thread-safe.</remarks>
public static class Eligibility
{
    /// <summary>Half a core: three nodes sharing one 2-core machine each still qualify.</summary>
    public const double MinFreeCpuCores = 0.5;

    public const long MinFreeMemoryMB = 256;

    /// <summary>One gigabyte: records round storage down to whole gigabytes.</summary>
    public const long MinFreeStorageMB = 1024;

    /// <summary>A LAN or one data centre; a link slower than this is too far to split work over.</summary>
    public const double MaxMedianRttMs = 100;

    public const string Tier = "tier";
    public const string Arch = "arch";
    public const string Resources = "resources";
    public const string Proximity = "proximity";
    public const string Gpu = "gpu";

    /// <summary>Judges <paramref name="peer"/> against this node's record <paramref name="self"/>.</summary>
    public static Candidate Judge(NodeRecord self, NodeRecord peer, double? medianRttMs, AggregationOptions options)
    {
        ArgumentNullException.ThrowIfNull(self);
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(options);
        var failed = new List<string>();
        var warnings = new List<string>();
        if (TierRules.Rank(peer.Content.Tier) < TierRules.Rank(options.MinTier))
        {
            failed.Add(Tier);
        }

        if (TierRules.Rank(peer.Content.Tier) > TierRules.Rank(peer.Content.QualifiedTier))
        {
            warnings.Add($"configured tier {peer.Content.Tier} is above the tier its hardware qualifies for ({peer.Content.QualifiedTier})");
        }

        if (!string.Equals(peer.Content.Arch, self.Content.Arch, StringComparison.Ordinal))
        {
            failed.Add(Arch);
        }

        if (!HasFreeResources(peer.Content.Free))
        {
            failed.Add(Resources);
        }

        if (medianRttMs is not { } rtt || rtt >= MaxMedianRttMs)
        {
            failed.Add(Proximity);
        }

        if (options.NeedsGpu && peer.Content.Free.GpuCount < 1)
        {
            failed.Add(Gpu);
        }

        return new Candidate(peer.Id, failed.Count == 0, failed, medianRttMs, warnings);
    }

    /// <summary>Whether this node itself may be in a group: its own tier and free resources.</summary>
    public static bool SelfEligible(NodeRecord self, AggregationOptions options)
    {
        ArgumentNullException.ThrowIfNull(self);
        ArgumentNullException.ThrowIfNull(options);
        return TierRules.Rank(self.Content.Tier) >= TierRules.Rank(options.MinTier) && HasFreeResources(self.Content.Free);
    }

    public static bool HasFreeResources(ResourceAmounts free)
    {
        ArgumentNullException.ThrowIfNull(free);
        return free.Cpu >= MinFreeCpuCores && free.MemoryMB >= MinFreeMemoryMB && free.StorageMB >= MinFreeStorageMB;
    }
}
