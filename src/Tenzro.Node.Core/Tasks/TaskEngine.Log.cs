using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Diagnostics;

namespace Tenzro.Node.Core.Tasks;

public sealed partial class TaskEngine
{
    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.TaskRecovered, Level = LogLevel.Information, Message = "Task {TaskId} was running when the node stopped; requeued after {Attempts} attempt(s)")]
        public static partial void TaskRecovered(ILogger logger, string taskId, int attempts);

        [LoggerMessage(EventId = LogEvents.TaskFinished, Level = LogLevel.Information, Message = "Task {TaskId} ({Type}) ended {State} after {DurationMs:F1} ms {Error}")]
        public static partial void TaskFinished(ILogger logger, string taskId, string type, string state, double durationMs, string? error);

        [LoggerMessage(EventId = LogEvents.TaskPaused, Level = LogLevel.Information, Message = "Task {TaskId} paused: {Reason}")]
        public static partial void TaskPaused(ILogger logger, string taskId, string reason);

        [LoggerMessage(EventId = LogEvents.TaskResumed, Level = LogLevel.Information, Message = "Task {TaskId} resumed")]
        public static partial void TaskResumed(ILogger logger, string taskId);

        [LoggerMessage(EventId = LogEvents.TaskFinalWriteFailed, Level = LogLevel.Warning, Message = "Task {TaskId} ended, but its final state could not be stored (try {Attempt}); it keeps its slot and is retried in {BackoffSeconds} s")]
        public static partial void FinalWriteFailed(ILogger logger, Exception exception, string taskId, int attempt, double backoffSeconds);

        [LoggerMessage(EventId = LogEvents.TaskRunDiskFull, Level = LogLevel.Warning, Message = "Task {TaskId} stopped because the disk is full (try {Attempt}); it keeps its slot and runs again in {BackoffSeconds} s")]
        public static partial void RunDiskFull(ILogger logger, Exception exception, string taskId, int attempt, double backoffSeconds);

        [LoggerMessage(EventId = LogEvents.TaskCrashed, Level = LogLevel.Error, Message = "Task {TaskId} failed inside the node")]
        public static partial void TaskCrashed(ILogger logger, Exception exception, string taskId);
    }
}
