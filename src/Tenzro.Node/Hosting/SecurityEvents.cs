using System.Diagnostics.Metrics;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Hosting;

/// <summary>
/// Security-relevant events (refused requests, quota refusals, dropped frames), logged under the category
/// <see cref="NodeLogging.SecurityCategory"/> so they can be filtered or shipped on their own, and counted in
/// <c>tenzro.security.refusals</c> by status and reason. Never given a key, token or secret.
/// </summary>
internal sealed partial class SecurityEvents
{
    private readonly ILogger _logger;
    private readonly Counter<long> _refusals;

    public SecurityEvents(ILoggerFactory loggers, IMeterFactory meters)
    {
        _logger = loggers.CreateLogger(NodeLogging.SecurityCategory);
        _refusals = meters.Create(TaskMetrics.MeterName).CreateCounter<long>("tenzro.security.refusals", "{refusal}",
            "Requests and frames refused: 401, 403, 429 and dropped regional frames, by status and reason.");
    }

    /// <summary>A request refused with <paramref name="status"/> (401, 403 or 429).</summary>
    public void Refused(int status, string reason, string caller, string action)
    {
        Count(status.ToString(System.Globalization.CultureInfo.InvariantCulture), reason);
        LogRefused(_logger, status, reason, action, caller);
    }

    public void QuotaExceeded(string requester, string reason)
    {
        Count("429", "quota");
        LogQuotaExceeded(_logger, requester, reason);
    }

    /// <summary>Counts a regional frame dropped or refused for <paramref name="reason"/>; the link logs it itself, with its details.</summary>
    public void CountDroppedFrame(string reason) => Count("frame", reason);

    private void Count(string status, string reason) =>
        _refusals.Add(1, new KeyValuePair<string, object?>("status", status), new KeyValuePair<string, object?>("reason", reason));

    [LoggerMessage(EventId = LogEvents.AdminRefused, Level = LogLevel.Warning, Message = "Refused {Status} {Reason}: {Action} from {Caller}")]
    private static partial void LogRefused(ILogger logger, int status, string reason, string action, string caller);

    [LoggerMessage(EventId = LogEvents.QuotaExceeded, Level = LogLevel.Warning, Message = "Refused a task from {Requester}: {Reason}")]
    private static partial void LogQuotaExceeded(ILogger logger, string requester, string reason);
}
