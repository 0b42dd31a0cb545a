using System.Text.Json.Nodes;

namespace Tenzro.Node.Core.Optimization;

/// <summary>One choice the node made from its hardware profile (CONTRACTS.md "Optimization").</summary>
/// <param name="Name">What was chosen; the setting that overrides it where there is one.</param>
/// <param name="Value">The value in force.</param>
/// <param name="Reason">The figures it came from, or that the setting fixed it.</param>
/// <param name="Setting">The setting that overrides it; null when none does.</param>
public sealed record OptimizationChoice(string Name, JsonNode? Value, string Reason, string? Setting);

/// <summary>Something the node tunes from the machine, reporting its choices for <c>GET /api/hardware/profile</c>.</summary>
/// <remarks>Implementations are thread-safe; <see cref="Choices"/> is called per request and must be cheap.</remarks>
public interface IOptimizationSource
{
    IEnumerable<OptimizationChoice> Choices();
}
