using System.Text.Json.Nodes;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Networking.Aggregation;

/// <summary>
/// The <c>pooled</c> figures of <c>/api/aggregation</c>: the sum of the live members' free resources, the sum of their
/// speeds (<c>cpuOpsPerSecond</c>, only when every one of them announces its speed, so that a sum never passes for the
/// group's when it misses a member) and the union of their capabilities.
/// </summary>
/// <remarks>Not thread-safe: built and read by one caller.</remarks>
internal sealed class PooledCapacity
{
    private readonly SortedSet<string> _capabilities = new(StringComparer.Ordinal);
    private ResourceAmounts _free = ResourceAmounts.None;
    private long _opsPerSecond;
    private int _members;
    private int _withSpeed;

    public void Add(NodeRecord record)
    {
        _free = _free.Plus(record.Content.Free);
        _capabilities.UnionWith(record.Content.Capabilities);
        _members++;
        if (record.Content.FreeCpuOpsPerSecond is { } ops)
        {
            _opsPerSecond += ops;
            _withSpeed++;
        }
    }

    public JsonObject ToJson()
    {
        var json = (_free with { Cpu = Math.Round(_free.Cpu, 2) }).ToJson(ResourceAmounts.CpuCoresName);
        if (_members > 0 && _withSpeed == _members)
        {
            json[NodeRecordContent.CpuOpsPerSecondName] = _opsPerSecond;
        }

        json["capabilities"] = new JsonArray([.. _capabilities.Select(c => (JsonNode)c)]);
        return json;
    }
}
