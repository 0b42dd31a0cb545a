using Tenzro.Node.Hosting;
using Tenzro.Node.Core.Regional;

namespace Tenzro.Node.Networking.Regional;

internal sealed partial class RegionalTaskIntake
{
    [LoggerMessage(EventId = LogEvents.RegionalTaskAccepted, Level = LogLevel.Information, Message = "Accepted regional task {TaskId} ({Type}; repeated assignment: {Repeated})")]
    private static partial void LogAccepted(ILogger logger, string taskId, string type, bool repeated);

    [LoggerMessage(EventId = LogEvents.RegionalTaskRejected, Level = LogLevel.Warning, Message = "Rejected regional task {TaskId}: {Reason}")]
    private static partial void LogRejected(ILogger logger, string taskId, string reason);

    [LoggerMessage(EventId = LogEvents.RegionalAssignmentWithoutTaskId, Level = LogLevel.Warning, Message = "Dropped a task_assignment without a task object or taskId: there is nothing to answer")]
    private static partial void LogAssignmentWithoutTaskId(ILogger logger);

    [LoggerMessage(EventId = LogEvents.RegionalReportFailed, Level = LogLevel.Error, Message = "Writing the final report of regional task {TaskId} to the outbox failed")]
    private static partial void LogReportFailed(ILogger logger, Exception exception, string taskId);

    [LoggerMessage(EventId = LogEvents.RegionalOutboxReconciled, Level = LogLevel.Information, Message = "Regional outbox: wrote {Restored} report(s) missing after a restart, pruned {Pruned} sent row(s)")]
    private static partial void LogReconciled(ILogger logger, int restored, int pruned);
}
