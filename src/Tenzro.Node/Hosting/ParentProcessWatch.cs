using System.Diagnostics;
using System.Runtime.InteropServices;
using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Hosting;

/// <summary>
/// PARENT_PID: stops the node, as SIGTERM would, once the process that started it has ended, so that nodes
/// started by <c>tenzro-node dev-network</c> do not outlive it when it is killed (SIGKILL runs no clean-up).
/// Checked every second. On Linux and macOS a node whose parent it is watches its own parent id, which
/// changes the moment the parent exits (an exited but not yet reaped parent counts as ended); any other
/// process is looked up by id.
/// </summary>
internal sealed partial class ParentProcessWatch(NodeOptions options, IHostApplicationLifetime lifetime, ILogger<ParentProcessWatch> logger) : BackgroundService
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.ParentProcessId is not { } parent)
        {
            return;
        }

        var direct = !OperatingSystem.IsWindows() && GetParentProcessId() == parent;
        using var timer = new PeriodicTimer(Period);
        try
        {
            do
            {
                if (!(direct ? GetParentProcessId() == parent : IsRunning(parent)))
                {
                    LogParentEnded(logger, parent);
                    lifetime.StopApplication();
                    return;
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static bool IsRunning(int processId)
    {
        try
        {
            using var process = Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = LogEvents.ParentProcessEnded, Level = LogLevel.Warning, Message = "Process {ParentProcessId} (PARENT_PID) has ended; stopping")]
    private static partial void LogParentEnded(ILogger logger, int parentProcessId);

    // DllImport rather than LibraryImport: getppid(2) takes nothing and returns an int, nothing to marshal.
    [DllImport("libc", EntryPoint = "getppid")]
    private static extern int GetParentProcessId();
}
