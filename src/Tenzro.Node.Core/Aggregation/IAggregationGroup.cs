using System.Text.Json.Nodes;

namespace Tenzro.Node.Core.Aggregation;

/// <summary>The aggregation group as the API, the CLI's endpoints and the regional status see it.</summary>
/// <remarks>Implementations are thread-safe.</remarks>
public interface IAggregationGroup
{
    /// <summary>The body of <c>GET /api/aggregation</c> (CONTRACTS "API additions").</summary>
    JsonObject View();

    /// <summary>Every linked peer judged as a candidate (<c>GET /api/aggregation/candidates</c>).</summary>
    IReadOnlyList<Candidate> Candidates();

    /// <summary>The <c>aggregation</c> member of <c>node_status</c>: only while this node leads a group, else null.</summary>
    JsonObject? LeaderStatus();
}
