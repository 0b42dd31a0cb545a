namespace Tenzro.Node.Hosting;

/// <summary>
/// Event ids of every log message in the executable, in one list so that none repeats (a test checks
/// it). Ranges: 1xxx node, 2xxx tasks, 3xxx resources, 4xxx hardware, 5xxx network, 9xxx security.
/// </summary>
internal static class LogEvents
{
    public const int UnhandledRequestError = 1004;
    public const int HealthChanged = 1005;
    public const int HealthRecovered = 1006;
    public const int AdminRefused = 9001;
    public const int QuotaExceeded = 9002;
    public const int ResultsExpired = 2101;
    public const int ResultSweepFailed = 2102;
    public const int HardwareProfiled = 4101;
    public const int HardwareToolProblem = 4102;
    public const int TierAboveQualified = 4103;
    public const int BenchmarksReady = 4104;
    public const int ProfileRefreshFailed = 4105;
}
