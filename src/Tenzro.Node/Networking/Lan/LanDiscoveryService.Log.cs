using Tenzro.Node.Hosting;

namespace Tenzro.Node.Networking.Lan;

internal sealed partial class LanDiscoveryService
{
    [LoggerMessage(EventId = LogEvents.LanStarted, Level = LogLevel.Information, Message = "LAN discovery on: {Service} as {Label}, records live {TtlSeconds} s, announced every {IntervalSeconds} s")]
    private static partial void LogStarted(ILogger logger, string service, string label, double ttlSeconds, double intervalSeconds);

    [LoggerMessage(EventId = LogEvents.LanSocketFailed, Level = LogLevel.Error, Message = "LAN discovery: {Reason}")]
    private static partial void LogSocketFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = LogEvents.LanInterfaceJoined, Level = LogLevel.Information, Message = "LAN discovery joined the mDNS group on {Interface} ({Addresses})")]
    private static partial void LogInterfaceJoined(ILogger logger, string @interface, string addresses);

    [LoggerMessage(EventId = LogEvents.LanInterfaceFailed, Level = LogLevel.Warning, Message = "LAN discovery cannot use {Interface}: {Reason}")]
    private static partial void LogInterfaceFailed(ILogger logger, string @interface, string reason);

    [LoggerMessage(EventId = LogEvents.LanPeerFound, Level = LogLevel.Information, Message = "LAN peer {Peer} found at {Address} on {Interface}")]
    private static partial void LogPeerFound(ILogger logger, string peer, string address, string @interface);

    [LoggerMessage(EventId = LogEvents.LanPeerGone, Level = LogLevel.Information, Message = "LAN peer {Peer} gone: {Reason}")]
    private static partial void LogPeerGone(ILogger logger, string peer, string reason);

    [LoggerMessage(EventId = LogEvents.LanAnnounced, Level = LogLevel.Information, Message = "LAN discovery first announcement: {Label} port {Port} on {Interface}, seq {Seq}")]
    private static partial void LogAnnounced(ILogger logger, string label, int port, string @interface, long seq);

    [LoggerMessage(EventId = LogEvents.LanSendFailed, Level = LogLevel.Warning, Message = "LAN discovery ({Where}): {Reason}")]
    private static partial void LogSendFailed(ILogger logger, string where, string reason);

    [LoggerMessage(EventId = LogEvents.LanRejected, Level = LogLevel.Warning, Message = "Refused an mDNS packet from {Remote} on {Interface}: {Reason} ({Detail})")]
    private static partial void LogRejected(ILogger logger, string remote, string @interface, string reason, string detail);
}
