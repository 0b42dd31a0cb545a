namespace Tenzro.Node.Core.Resources;

/// <summary>Reads whether the machine's user is at it: when keyboard, mouse or session activity was last seen.</summary>
/// <remarks>
/// Called by one caller at a time (the <see cref="UserActivityMonitor"/>), every METRICS_UPDATE_INTERVAL.
/// Implementations may keep state between calls (to notice a counter changing) and must not wait long:
/// what they read from other processes is bounded by a short timeout.
/// </remarks>
public interface IUserActivity
{
    /// <summary>Reads the latest sign of the user's activity now. Sources that cannot be read are skipped, and named in the reading.</summary>
    Task<UserActivityReading> ReadAsync(CancellationToken cancellationToken);
}

/// <summary>One reading of the user's activity.</summary>
/// <param name="LastActivityAt">When the user was last seen active; null when the machine has no local user at all (headless).</param>
/// <param name="Source">Where the sign came from, for people: "logind session 2 (wayland)", "keyboard or mouse interrupts", "headless".</param>
/// <param name="Problem">Why a source could not be read (e.g. loginctl timed out), or null.</param>
public sealed record UserActivityReading(DateTimeOffset? LastActivityAt, string Source, string? Problem = null)
{
    public const string HeadlessSource = "headless: no local login session and no input device";

    public static UserActivityReading Headless(string? problem = null) => new(null, HeadlessSource, problem);
}
