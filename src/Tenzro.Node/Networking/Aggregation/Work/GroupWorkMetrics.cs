using System.Diagnostics.Metrics;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Networking.Aggregation.Work;

/// <summary>
/// <c>tenzro_aggregation_parts_total{outcome}</c>: runs of split tasks' parts as the leader records them (completed,
/// failed, expired).
/// </summary>
/// <remarks>Thread-safe.</remarks>
internal sealed class GroupWorkMetrics
{
    private readonly Counter<long> _parts;

    public GroupWorkMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(TaskMetrics.MeterName);
        _parts = meter.CreateCounter<long>("tenzro.aggregation.parts", "{part}", "Runs of split tasks' parts recorded by this node as the group's leader, by outcome (completed, failed, expired).");
    }

    public void Part(string outcome) => _parts.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void Expired(int count)
    {
        if (count > 0)
        {
            _parts.Add(count, new KeyValuePair<string, object?>("outcome", "expired"));
        }
    }
}
