namespace Tenzro.Node.Core.Diagnostics;

/// <summary>
/// Event ids of every log message in Tenzro.Node.Core, in one list so that none repeats
/// (a test checks it). Ranges: 1xxx node, 2xxx tasks, 3xxx resources, 4xxx hardware, 5xxx network, 70xx optimization, 9xxx security.
/// </summary>
internal static class LogEvents
{
    public const int TaskRecovered = 2001;
    public const int TaskFinished = 2002;
    public const int TaskCrashed = 2003;
    public const int TaskFinalWriteFailed = 2004;
    public const int TaskRunDiskFull = 2005;
    public const int TaskHookFailed = 5050;
    public const int OnnxSessionLoaded = 2301;
    public const int SampleFailed = 3001;
    public const int PressureEntered = 3002;
    public const int PressureCleared = 3003;
    public const int UserBecameActive = 3101;
    public const int UserBecameIdle = 3102;
    public const int UserActivityReadFailed = 3103;
    public const int TaskPaused = 3104;
    public const int TaskResumed = 3105;
    public const int UserActivityCheckFailed = 3106;
    public const int UserAbsent = 3107;
    public const int BenchmarkFailed = 4001;
    public const int BandwidthMeasured = 4201;
    public const int BandwidthFailed = 4202;
    public const int BandwidthStoreFailed = 4203;
    public const int RunSlotsDerived = 7001;
    public const int CostLearned = 7002;
    public const int CostFlushFailed = 7003;
}
