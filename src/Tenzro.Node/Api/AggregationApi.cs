using System.Text.Json.Nodes;
using Tenzro.Node.Core.Aggregation;

namespace Tenzro.Node.Api;

/// <summary><c>GET /api/aggregation</c> and <c>GET /api/aggregation/candidates</c> (CONTRACTS "API additions").</summary>
internal static class AggregationApi
{
    public static WebApplication MapAggregationApi(this WebApplication app)
    {
        var group = app.MapGroup("/api/aggregation").WithTags("Aggregation");
        group.MapGet("/", (IAggregationGroup aggregation) => TypedResults.Json(aggregation.View()))
            .WithName("GetAggregation").WithSummary("This node's aggregation group: state, leader, members with liveness and free resources, pooled capacity.");
        group.MapGet("/candidates", (IAggregationGroup aggregation) => TypedResults.Json(new JsonObject
        {
            ["candidates"] = new JsonArray([.. aggregation.Candidates().Select(ToJson)]),
        })).WithName("GetAggregationCandidates").WithSummary("Every linked peer judged for a group: eligible or the criteria it failed (tier, arch, resources, proximity).");
        return app;
    }

    private static JsonNode ToJson(Candidate candidate)
    {
        var json = new JsonObject
        {
            ["id"] = candidate.Id,
            ["eligible"] = candidate.Eligible,
            ["failed"] = new JsonArray([.. candidate.Failed.Select(f => (JsonNode)f)]),
            ["rttMs"] = candidate.RttMs,
        };
        if (candidate.Warnings.Count > 0)
        {
            json["warnings"] = new JsonArray([.. candidate.Warnings.Select(w => (JsonNode)w)]);
        }

        return json;
    }
}
