using Tenzro.Node.Hosting;
using Tenzro.Node.Core.Regional;

namespace Tenzro.Node.Networking.Regional;

internal sealed partial class RegionalLink
{
    [LoggerMessage(EventId = LogEvents.RegionalStandalone, Level = LogLevel.Information, Message = "No REGIONAL_NODE_URL or BOOTSTRAP_NODES set: running standalone, without a regional node")]
    private static partial void LogStandalone(ILogger logger);

    [LoggerMessage(EventId = LogEvents.RegionalCannotLink, Level = LogLevel.Error, Message = "The regional link cannot be used: {Reason}. The node keeps serving its API without it")]
    private static partial void LogCannotLink(ILogger logger, string reason);

    [LoggerMessage(EventId = LogEvents.RegionalJoined, Level = LogLevel.Information, Message = "Joined the regional node at {Url} (join round trip {RoundTripMs} ms)")]
    private static partial void LogJoined(ILogger logger, Uri url, double roundTripMs);

    [LoggerMessage(EventId = LogEvents.RegionalReconnecting, Message = "Regional link to {Url} is down ({Reason}); reconnecting in {DelayMs} ms")]
    private static partial void LogReconnecting(ILogger logger, LogLevel level, Uri url, string reason, double delayMs);

    [LoggerMessage(EventId = LogEvents.RegionalGaveUp, Level = LogLevel.Error, Message = "Regional link failed {Failures} times in a row (MAX_RECONNECT_ATTEMPTS); last reason: {Reason}. Still retrying {Url} at the capped interval")]
    private static partial void LogGaveUp(ILogger logger, int failures, Uri url, string reason);

    [LoggerMessage(EventId = LogEvents.RegionalResetRequested, Level = LogLevel.Information, Message = "Regional link reset requested: closing and reconnecting now")]
    private static partial void LogResetRequested(ILogger logger);

    [LoggerMessage(EventId = LogEvents.RegionalLeft, Level = LogLevel.Information, Message = "Sent leave to the regional node at {Url}")]
    private static partial void LogLeft(ILogger logger, Uri url);

    [LoggerMessage(EventId = LogEvents.RegionalLeaveFailed, Level = LogLevel.Warning, Message = "Could not send leave before stopping: {Reason}")]
    private static partial void LogLeaveFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = LogEvents.RegionalMalformedFrame, Level = LogLevel.Warning, Message = "Dropped a malformed frame of {Size} bytes from the regional node: {Reason}")]
    private static partial void LogMalformedFrame(ILogger logger, long size, string reason);

    [LoggerMessage(EventId = LogEvents.RegionalOversizedFrame, Level = LogLevel.Warning, Message = "Dropped a frame of {Size} bytes from the regional node: over MAX_MESSAGE_SIZE ({Limit} bytes)")]
    private static partial void LogOversizedFrame(ILogger logger, long size, long limit);

    [LoggerMessage(EventId = LogEvents.RegionalUnsignedFrame, Level = LogLevel.Warning, Message = "Dropped an unsigned {Type} frame of {Size} bytes from the regional node at {Url}: its key is pinned, so every frame must be signed by it")]
    private static partial void LogUnsignedFrame(ILogger logger, string type, long size, Uri url);

    [LoggerMessage(EventId = LogEvents.RegionalRewardRefused, Level = LogLevel.Warning, Message = "Refused a reward_distribution of {Reward} for task {TaskId}: {Reason}")]
    private static partial void LogRefusedReward(ILogger logger, string taskId, double reward, string reason);

    [LoggerMessage(EventId = LogEvents.RegionalKeyPinned, Level = LogLevel.Information, Message = "Pinned the regional node's key {PublicKey} (the first validly signed frame)")]
    private static partial void LogKeyPinned(ILogger logger, string publicKey);

    [LoggerMessage(EventId = LogEvents.RegionalError, Level = LogLevel.Warning, Message = "The regional node answered error '{Error}' (attributed to {MessageType} {TaskId})")]
    private static partial void LogRegionalError(ILogger logger, string error, string messageType, string taskId);

    [LoggerMessage(EventId = LogEvents.RegionalUnknownMessage, Level = LogLevel.Debug, Message = "Ignored a regional message of type {Type}")]
    private static partial void LogUnknownMessage(ILogger logger, string type);

    [LoggerMessage(EventId = LogEvents.RegionalHandlerFailed, Level = LogLevel.Error, Message = "Handling a regional {Type} message failed; the link stays up")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception, string type);

    [LoggerMessage(EventId = LogEvents.RegionalReward, Level = LogLevel.Information, Message = "Reward of {Reward} for task {TaskId}; earnings now {Total}")]
    private static partial void LogReward(ILogger logger, double reward, string taskId, double total);

    [LoggerMessage(EventId = LogEvents.RegionalBadReward, Level = LogLevel.Warning, Message = "Ignored a reward_distribution for task {TaskId}: reward {Reward} is not a number of at least 0")]
    private static partial void LogBadReward(ILogger logger, string taskId, string reward);

    [LoggerMessage(EventId = LogEvents.RegionalBadSignature, Level = LogLevel.Warning, Message = "Dropped a {Type} frame for peer {PeerId} from the regional node at {Url}: its signature does not verify ({Reason})")]
    private static partial void LogBadSignature(ILogger logger, string type, string peerId, string reason, Uri url);

    [LoggerMessage(EventId = LogEvents.RegionalOutboxRequeued, Level = LogLevel.Warning, Message = "The regional link went silent: {Count} messages sent in its last {Seconds} s may not have arrived and are sent again after the rejoin")]
    private static partial void LogRequeued(ILogger logger, int count, double seconds);

    [LoggerMessage(EventId = LogEvents.RegionalOutboxRequeuedAfterCrash, Level = LogLevel.Warning, Message = "The node did not stop cleanly: {Count} messages sent to the regional node in the last {Seconds} s before it stopped may not have arrived and are sent again after the join")]
    private static partial void LogRequeuedAfterCrash(ILogger logger, int count, double seconds);

    [LoggerMessage(EventId = LogEvents.RegionalStoreFailed, Level = LogLevel.Error, Message = "Reading the store for {What} failed; the regional link retries")]
    private static partial void LogStoreFailed(ILogger logger, Exception exception, string what);
}
