namespace Tenzro.Node.Networking.Aggregation.Work;

internal sealed partial class GroupWork
{
    [LoggerMessage(EventId = 5701, Level = LogLevel.Information, Message = "Splitting task {TaskId} into {Parts} parts (redundancy {Redundancy})")]
    private static partial void LogSplit(ILogger logger, string taskId, int parts, int redundancy);

    [LoggerMessage(EventId = 5702, Level = LogLevel.Information, Message = "Task {TaskId}: combined the results of its {Parts} parts")]
    private static partial void LogCombined(ILogger logger, string taskId, int parts);

    [LoggerMessage(EventId = 5703, Level = LogLevel.Warning, Message = "Part {PartId}: its result could not be fetched: {Reason}")]
    private static partial void LogFetchFailed(ILogger logger, string partId, string reason);

    [LoggerMessage(EventId = 5704, Level = LogLevel.Information, Message = "Group job {TaskId} added: {Parts} parts, home {Home}")]
    private static partial void LogJobAdded(ILogger logger, string taskId, int parts, string home);

    [LoggerMessage(EventId = 5705, Level = LogLevel.Information, Message = "Group job {TaskId} removed: its home is done with it")]
    private static partial void LogJobRemoved(ILogger logger, string taskId);

    [LoggerMessage(EventId = 5706, Level = LogLevel.Information, Message = "Running part {PartId}")]
    private static partial void LogPartStarted(ILogger logger, string partId);

    [LoggerMessage(EventId = 5707, Level = LogLevel.Debug, Message = "Part {PartId} could not start here: {Reason}")]
    private static partial void LogPartFailed(ILogger logger, string partId, string reason);

    [LoggerMessage(EventId = 5708, Level = LogLevel.Information, Message = "Fetching model {Model} from the home {Home} for a part")]
    private static partial void LogFetchingModel(ILogger logger, string model, string home);

    [LoggerMessage(EventId = 5740, Level = LogLevel.Information, Message = "Part {PartId}: cancelled here, its run here lapsed (this node was away) and the part went to another member")]
    private static partial void LogStalePart(ILogger logger, string partId);
}
