using System.Text.Json.Nodes;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Networking.Aggregation;

/// <summary>The <c>pooled</c> figures of <c>/api/aggregation</c>: the sum of the live members' free resources and the union of their capabilities.</summary>
/// <remarks>Not thread-safe: built and read by one caller.</remarks>
internal sealed class PooledCapacity
{
    private readonly SortedSet<string> _capabilities = new(StringComparer.Ordinal);
    private ResourceAmounts _free = ResourceAmounts.None;

    public void Add(NodeRecord record)
    {
        _free = _free.Plus(record.Content.Free);
        _capabilities.UnionWith(record.Content.Capabilities);
    }

    public JsonObject ToJson()
    {
        var json = (_free with { Cpu = Math.Round(_free.Cpu, 2) }).ToJson(ResourceAmounts.CpuCoresName);
        json["capabilities"] = new JsonArray([.. _capabilities.Select(c => (JsonNode)c)]);
        return json;
    }
}
