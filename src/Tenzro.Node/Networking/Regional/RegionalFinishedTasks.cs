using System.Threading.Channels;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Networking.Regional;

/// <summary>
/// The engine's finished hook for regional tasks: queues the id of every regional task that ended, for
/// <see cref="RegionalTaskIntake"/> to report to the regional node (it waits for the task's admission first).
/// </summary>
internal sealed class RegionalFinishedTasks : ITaskFinishedHook
{
    private readonly Channel<string> _ended = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });

    public ChannelReader<string> Reader => _ended.Reader;

    public ValueTask FinishedAsync(TaskEnd end)
    {
        if (end.Spec.Origin == TaskOrigins.Regional)
        {
            _ended.Writer.TryWrite(end.Spec.TaskId);
        }

        return ValueTask.CompletedTask;
    }
}
