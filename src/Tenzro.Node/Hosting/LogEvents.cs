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
    public const int ParentProcessEnded = 1007;
    public const int AdminRefused = 9001;
    public const int QuotaExceeded = 9002;
    public const int TlsCertificateLoaded = 9004;
    public const int TlsCertificateReloadFailed = 9005;
    public const int ResultsExpired = 2101;
    public const int ResultSweepFailed = 2102;
    public const int HardwareProfiled = 4101;
    public const int HardwareToolProblem = 4102;
    public const int TierAboveQualified = 4103;
    public const int BenchmarksReady = 4104;
    public const int ProfileRefreshFailed = 4105;
    public const int HardwareNotDetected = 4106;
    public const int UsableCapacityChanged = 4107;

    public const int RegionalStandalone = 5101;
    public const int RegionalCannotLink = 5102;
    public const int RegionalJoined = 5103;
    public const int RegionalReconnecting = 5104;
    public const int RegionalGaveUp = 5105;
    public const int RegionalResetRequested = 5106;
    public const int RegionalLeft = 5107;
    public const int RegionalLeaveFailed = 5108;
    public const int RegionalMalformedFrame = 5109;
    public const int RegionalOversizedFrame = 5110;
    public const int RegionalError = 5111;
    public const int RegionalUnknownMessage = 5112;
    public const int RegionalHandlerFailed = 5113;
    public const int RegionalReward = 5114;
    public const int RegionalBadReward = 5115;
    public const int RegionalTaskAccepted = 5116;
    public const int RegionalTaskRejected = 5117;
    public const int RegionalAssignmentWithoutTaskId = 5118;
    public const int RegionalReportFailed = 5119;
    public const int RegionalOutboxReconciled = 5120;
    public const int RegionalStoreFailed = 5121;
    public const int RegionalOutboxRequeued = 5122;
    public const int RegionalOutboxRequeuedAfterCrash = 5123;

    public const int PeerListening = 5201;
    public const int PeerListenerFailed = 5202;
    public const int PeerAcceptFailed = 5203;
    public const int PeerInboundFailed = 5204;
    public const int PeerDialFailed = 5205;
    public const int PeerLinkOpened = 5206;
    public const int PeerLinkClosed = 5207;

    public const int LanStarted = 5401;
    public const int LanSocketFailed = 5402;
    public const int LanInterfaceJoined = 5403;
    public const int LanInterfaceFailed = 5404;
    public const int LanPeerFound = 5405;
    public const int LanPeerGone = 5406;
    public const int LanAnnounced = 5407;
    public const int LanSendFailed = 5408;
    public const int DhtListening = 5501;
    public const int DhtBindFailed = 5502;
    public const int DhtJoined = 5503;
    public const int DhtPublished = 5504;
    public const int DhtSaveFailed = 5505;
    public const int DhtBootstrapUnresolved = 5506;
    public const int DhtPeerGone = 5507;

    public const int RegionalBadSignature = 9101;
    public const int RegionalUnsignedFrame = 9102;
    public const int RegionalRewardRefused = 9103;
    public const int RegionalKeyPinned = 9104;
    public const int PeerRejected = 9105;
    public const int LanRejected = 9110;
    public const int DhtRejected = 9121;
}
