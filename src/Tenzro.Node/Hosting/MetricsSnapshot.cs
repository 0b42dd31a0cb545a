using System.Text.Json.Nodes;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Tenzro.Node.Hosting;

/// <summary>
/// Reads the same OpenTelemetry metric stream that feeds <c>/metrics</c>, on demand, and renders it as
/// JSON for <c>/api/metrics</c>. A collection is forced per request (serialized by a lock), so the JSON
/// and the Prometheus text always agree.
/// </summary>
/// <remarks>Thread-safe.</remarks>
internal sealed class MetricsSnapshot
{
    private readonly Lock _lock = new();
    private JsonObject _latest = [];

    public MetricsSnapshot() =>
        Reader = new BaseExportingMetricReader(new SnapshotExporter(this)) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative };

    /// <summary>The reader to add to the meter provider; collected only on demand.</summary>
    public MetricReader Reader { get; }

    /// <summary>Collects now and returns every metric: name → {type, unit, description, points}.</summary>
    public JsonObject Collect()
    {
        lock (_lock)
        {
            Reader.Collect(5000);
            return (JsonObject)_latest.DeepClone();
        }
    }

    private void Store(in Batch<Metric> batch)
    {
        var metrics = new JsonObject();
        foreach (var metric in batch)
        {
            var points = new JsonArray();
            foreach (ref readonly var point in metric.GetMetricPoints())
            {
                var tags = new JsonObject();
                foreach (var tag in point.Tags)
                {
                    tags[tag.Key] = tag.Value?.ToString();
                }

                var entry = new JsonObject { ["tags"] = tags };
                switch (metric.MetricType)
                {
                    case MetricType.LongSum or MetricType.LongSumNonMonotonic:
                        entry["value"] = point.GetSumLong();
                        break;
                    case MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic:
                        entry["value"] = point.GetSumDouble();
                        break;
                    case MetricType.LongGauge:
                        entry["value"] = point.GetGaugeLastValueLong();
                        break;
                    case MetricType.DoubleGauge:
                        entry["value"] = Finite(point.GetGaugeLastValueDouble());
                        break;
                    case MetricType.Histogram:
                        entry["count"] = point.GetHistogramCount();
                        entry["sum"] = Finite(point.GetHistogramSum());
                        var buckets = new JsonArray();
                        foreach (var bucket in point.GetHistogramBuckets())
                        {
                            buckets.Add(new JsonObject { ["le"] = double.IsPositiveInfinity(bucket.ExplicitBound) ? "+Inf" : bucket.ExplicitBound, ["count"] = bucket.BucketCount });
                        }

                        entry["buckets"] = buckets;
                        break;
                    default:
                        continue;
                }

                points.Add(entry);
            }

            metrics[metric.Name] = new JsonObject
            {
                ["type"] = metric.MetricType switch
                {
                    MetricType.LongSum or MetricType.DoubleSum => "counter",
                    MetricType.Histogram => "histogram",
                    MetricType.LongSumNonMonotonic or MetricType.DoubleSumNonMonotonic => "updowncounter",
                    _ => "gauge",
                },
                ["unit"] = metric.Unit,
                ["description"] = metric.Description,
                ["points"] = points,
            };
        }

        _latest = metrics;
    }

    private static double Finite(double value) => double.IsFinite(value) ? value : 0;

    private sealed class SnapshotExporter(MetricsSnapshot owner) : BaseExporter<Metric>
    {
        public override ExportResult Export(in Batch<Metric> batch)
        {
            owner.Store(batch);
            return ExportResult.Success;
        }
    }
}
