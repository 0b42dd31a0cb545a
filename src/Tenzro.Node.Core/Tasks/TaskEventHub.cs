using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Tenzro.Node.Core.Tasks;

/// <summary>A change of a task: a new state (with the record) or new progress.</summary>
public sealed record TaskEvent(string TaskId, string Kind, TaskState? State, double? Progress, TaskRecord? Record);

/// <summary>
/// Fans task events out to subscribers (the SSE endpoint, the dashboard). Each subscriber has a bounded
/// channel that drops its oldest progress events when the reader is slow: progress is a gauge, so the
/// latest value is what matters, and a slow reader must never hold up the engine.
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed class TaskEventHub
{
    private readonly ConcurrentDictionary<Subscription, byte> _subscriptions = new();

    /// <summary>Subscribes to one task's events (or every task's, with null). Dispose to unsubscribe.</summary>
    public Subscription Subscribe(string? taskId)
    {
        var subscription = new Subscription(this, taskId);
        _subscriptions[subscription] = 0;
        return subscription;
    }

    public void Publish(TaskRecord record) =>
        Send(new TaskEvent(record.TaskId, "state", record.State, record.State == TaskState.Completed ? 1 : record.Progress, record));

    public void PublishProgress(string taskId, double progress) =>
        Send(new TaskEvent(taskId, "progress", null, progress, null));

    private void Send(TaskEvent e)
    {
        foreach (var subscription in _subscriptions.Keys)
        {
            if (subscription.TaskId is null || subscription.TaskId == e.TaskId)
            {
                subscription.Channel.Writer.TryWrite(e);
            }
        }
    }

    public sealed class Subscription : IDisposable
    {
        private readonly TaskEventHub _hub;

        internal Subscription(TaskEventHub hub, string? taskId)
        {
            _hub = hub;
            TaskId = taskId;
        }

        public string? TaskId { get; }

        internal Channel<TaskEvent> Channel { get; } = System.Threading.Channels.Channel.CreateBounded<TaskEvent>(
            new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

        public ChannelReader<TaskEvent> Reader => Channel.Reader;

        public void Dispose()
        {
            _hub._subscriptions.TryRemove(this, out _);
            Channel.Writer.TryComplete();
        }
    }
}
