namespace Tenzro.Node.Networking.Aggregation;

internal sealed partial class AggregationService
{
    [LoggerMessage(EventId = 5601, Level = LogLevel.Information, Message = "Proposing group {GroupId} to {Invited} eligible peers")]
    private static partial void LogProposing(ILogger logger, string groupId, int invited);

    [LoggerMessage(EventId = 5602, Level = LogLevel.Information, Message = "Accepting group {GroupId} founded by {Founder}")]
    private static partial void LogAccepting(ILogger logger, string groupId, string founder);

    [LoggerMessage(EventId = 5603, Level = LogLevel.Information, Message = "Peer {Peer} declined group {GroupId}: {Reason}")]
    private static partial void LogDeclined(ILogger logger, string peer, string groupId, string reason);

    [LoggerMessage(EventId = 5604, Level = LogLevel.Information, Message = "Joined group {GroupId}; its log is at {Raft} (cold start: {ColdStart})")]
    private static partial void LogJoined(ILogger logger, string groupId, string raft, bool coldStart);

    [LoggerMessage(EventId = 5605, Level = LogLevel.Information, Message = "Group {GroupId} not formed: {Accepted} of {Threshold} nodes accepted")]
    private static partial void LogTooFewAccepted(ILogger logger, string groupId, int accepted, int threshold);

    [LoggerMessage(EventId = 5606, Level = LogLevel.Information, Message = "Formation of group {GroupId} expired without a finalize")]
    private static partial void LogFormationExpired(ILogger logger, string groupId);

    [LoggerMessage(EventId = 5607, Level = LogLevel.Information, Message = "Member {Member} added to the group log at {Raft}")]
    private static partial void LogMemberAdded(ILogger logger, string member, string raft);

    [LoggerMessage(EventId = 5608, Level = LogLevel.Warning, Message = "Member {Member} could not be added: {Reason}")]
    private static partial void LogAddFailed(ILogger logger, string member, string reason);

    [LoggerMessage(EventId = 5609, Level = LogLevel.Warning, Message = "Group {GroupId} dissolved: no leader for {Seconds} s (AGGREGATION_TIMEOUT)")]
    private static partial void LogDissolved(ILogger logger, string groupId, double seconds);

    [LoggerMessage(EventId = 5610, Level = LogLevel.Information, Message = "Resuming group {GroupId} from the saved state")]
    private static partial void LogResuming(ILogger logger, string groupId);

    [LoggerMessage(EventId = 5611, Level = LogLevel.Warning, Message = "Aggregation step failed: {Reason}")]
    private static partial void LogStepFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 5612, Level = LogLevel.Debug, Message = "Group message to {Peer} not sent: {Reason}")]
    private static partial void LogSendFailed(ILogger logger, string peer, string reason);

    [LoggerMessage(EventId = 5613, Level = LogLevel.Warning, Message = "Group message from {Peer} refused ({Reason}): {Detail}")]
    private static partial void LogRefused(ILogger logger, string peer, string reason, string detail);

    [LoggerMessage(EventId = 5614, Level = LogLevel.Information, Message = "Draining: handing over the leadership of group {GroupId}")]
    private static partial void LogHandingOver(ILogger logger, string groupId);

    [LoggerMessage(EventId = 5617, Level = LogLevel.Information, Message = "Resumed before leaving group {GroupId}: standing for election again")]
    private static partial void LogStandingAgain(ILogger logger, string groupId);

    [LoggerMessage(EventId = 5615, Level = LogLevel.Information, Message = "Member {Member} left group {GroupId}")]
    private static partial void LogMemberLeft(ILogger logger, string member, string groupId);

    [LoggerMessage(EventId = 5616, Level = LogLevel.Information, Message = "Left group {GroupId}: the leader removed this draining node")]
    private static partial void LogLeft(ILogger logger, string groupId);

    [LoggerMessage(EventId = 5650, Level = LogLevel.Warning, Message = "Left group {GroupId}: the members' committed state (from {Peer}) no longer lists this node")]
    private static partial void LogRemovedSeen(ILogger logger, string groupId, string peer);

    [LoggerMessage(EventId = 5651, Level = LogLevel.Warning, Message = "Peer {Peer} excluded from this node's groups ({Reason}) until {Until}")]
    private static partial void LogExcluded(ILogger logger, string peer, string reason, DateTimeOffset until);

    [LoggerMessage(EventId = 5652, Level = LogLevel.Warning, Message = "Outvoted in job {Job} of group {GroupId}: leaving the group (the other members exclude this node)")]
    private static partial void LogOutvotedLeaving(ILogger logger, string groupId, string job);
}
