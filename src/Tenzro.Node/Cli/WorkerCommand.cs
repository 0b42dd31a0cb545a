using System.CommandLine;
using Tenzro.Node.Runtimes.Workers;

namespace Tenzro.Node.Cli;

/// <summary>
/// <c>tenzro-node worker &lt;onnx|train&gt;</c>, hidden: a runtime worker that the node starts itself, speaking the
/// framed protocol of <see cref="WorkerProtocol"/> on its standard input and output. Not for people to run.
/// </summary>
internal static class WorkerCommand
{
    public static Command Create()
    {
        var runtime = new Argument<string>("runtime") { Description = $"{WorkerRuntimes.Onnx} or {WorkerRuntimes.Train}." };
        var command = new Command("worker", "Run a task runtime worker for the node (started by the node itself).") { runtime };
        command.Hidden = true;
        command.SetAction((parse, _) => WorkerHost.RunAsync(parse.GetValue(runtime)!));
        return command;
    }
}
