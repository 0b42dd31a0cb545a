using Microsoft.Extensions.Logging;
using Tenzro.Node.Runtimes.Diagnostics;

namespace Tenzro.Node.Runtimes.Workers;

internal sealed partial class WorkerPool
{
    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.WorkerStarted, Level = LogLevel.Debug, Message = "Started the {Runtime} worker {Pid} (memory held by {Mechanism})")]
        public static partial void WorkerStarted(ILogger logger, string runtime, int pid, string mechanism);

        [LoggerMessage(EventId = LogEvents.WorkerMemoryLimit, Level = LogLevel.Warning, Message = "A task went over the {ReservedMB} MB it reserved in the {Runtime} worker {Pid}; the task failed and the worker ended")]
        public static partial void MemoryLimit(ILogger logger, string runtime, int pid, long reservedMB);

        [LoggerMessage(EventId = LogEvents.WorkerStopped, Level = LogLevel.Warning, Message = "The {Runtime} worker {Pid} stopped while running a task ({Exit}); the task failed")]
        public static partial void WorkerStopped(ILogger logger, string runtime, int pid, string exit);

        [LoggerMessage(EventId = LogEvents.WorkerCpuQuotaRefused, Level = LogLevel.Warning, Message = "The {Runtime} worker {Pid} could not be held to the {Cores} cores its task reserved; the task runs unheld ({Refusal})")]
        public static partial void CpuQuotaRefused(ILogger logger, string runtime, int pid, double cores, string refusal);
    }
}
