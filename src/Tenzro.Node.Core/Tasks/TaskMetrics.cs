using System.Diagnostics.Metrics;

namespace Tenzro.Node.Core.Tasks;

/// <summary>The task engine's instruments (meter <c>Tenzro.Node</c>); names follow Prometheus conventions once exported.</summary>
/// <remarks>Thread-safe: instruments may be recorded from any thread.</remarks>
public sealed class TaskMetrics
{
    public const string MeterName = "Tenzro.Node";
    private readonly Counter<long> _submitted;
    private readonly Counter<long> _completed;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _timedOut;
    private readonly Counter<long> _cancelled;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _queueWait;

    /// <summary>Bucket bounds for durations from a millisecond to TASK_TIMEOUT's default.</summary>
    public static readonly double[] SecondsBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];

    public TaskMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _submitted = meter.CreateCounter<long>("tenzro.tasks.submitted", "{task}", "Tasks accepted into the queue.");
        _completed = meter.CreateCounter<long>("tenzro.tasks.completed", "{task}", "Tasks that completed.");
        _failed = meter.CreateCounter<long>("tenzro.tasks.failed", "{task}", "Tasks that failed.");
        _timedOut = meter.CreateCounter<long>("tenzro.tasks.timed_out", "{task}", "Tasks stopped at their deadline.");
        _cancelled = meter.CreateCounter<long>("tenzro.tasks.cancelled", "{task}", "Tasks cancelled by request.");
        var seconds = new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets };
        _duration = meter.CreateHistogram("tenzro.task.duration", "s", "Run time of tasks, from start to end.", tags: null, advice: seconds);
        _queueWait = meter.CreateHistogram("tenzro.task.queue_wait", "s", "Time tasks waited in the queue before they started.", tags: null, advice: seconds);
    }

    public void Submitted(string type) => _submitted.Add(1, new KeyValuePair<string, object?>("type", type));

    public void QueueWait(string type, TimeSpan wait) => _queueWait.Record(Math.Max(0, wait.TotalSeconds), new KeyValuePair<string, object?>("type", type));

    public void Finished(string type, TaskState state, TimeSpan duration)
    {
        var tag = new KeyValuePair<string, object?>("type", type);
        switch (state)
        {
            case TaskState.Completed: _completed.Add(1, tag); break;
            case TaskState.Failed: _failed.Add(1, tag); break;
            case TaskState.TimedOut: _timedOut.Add(1, tag); break;
            case TaskState.Cancelled: _cancelled.Add(1, tag); break;
        }

        _duration.Record(duration.TotalSeconds, tag);
    }
}
