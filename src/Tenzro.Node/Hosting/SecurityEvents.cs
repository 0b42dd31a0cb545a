namespace Tenzro.Node.Hosting;

/// <summary>
/// Security-relevant events (refused admin calls, quota refusals), logged under the category
/// <see cref="NodeLogging.SecurityCategory"/> so they can be filtered or shipped on their own.
/// </summary>
internal sealed partial class SecurityEvents(ILoggerFactory loggers)
{
    private readonly ILogger _logger = loggers.CreateLogger(NodeLogging.SecurityCategory);

    public void AdminRefused(string action, string remote) => LogAdminRefused(_logger, action, remote);

    public void QuotaExceeded(string requester, string reason) => LogQuotaExceeded(_logger, requester, reason);

    [LoggerMessage(EventId = LogEvents.AdminRefused, Level = LogLevel.Warning, Message = "Refused admin action {Action} from non-loopback caller {Remote}")]
    private static partial void LogAdminRefused(ILogger logger, string action, string remote);

    [LoggerMessage(EventId = LogEvents.QuotaExceeded, Level = LogLevel.Warning, Message = "Refused a task from {Requester}: {Reason}")]
    private static partial void LogQuotaExceeded(ILogger logger, string requester, string reason);
}
