using Tenzro.Node.Hosting;

namespace Tenzro.Node.Networking.Peers;

internal sealed partial class PeerLinkService
{
    [LoggerMessage(EventId = LogEvents.PeerListening, Level = LogLevel.Information, Message = "Listening for peer links on {Host}:{Port}/tcp (TLS 1.3)")]
    private static partial void LogListening(ILogger logger, string host, int port);

    [LoggerMessage(EventId = LogEvents.PeerListenerFailed, Level = LogLevel.Error, Message = "Peer links are off: {Reason}. The node keeps serving its API and tasks")]
    private static partial void LogListenerFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = LogEvents.PeerAcceptFailed, Level = LogLevel.Warning, Message = "Accepting a peer connection failed: {Reason}")]
    private static partial void LogAcceptFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = LogEvents.PeerInboundFailed, Level = LogLevel.Debug, Message = "An inbound peer connection from {Remote} failed: {Reason}")]
    private static partial void LogInboundFailed(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = LogEvents.PeerDialFailed, Level = LogLevel.Debug, Message = "Dialling {Peer} failed: {Reason}")]
    private static partial void LogDialFailed(ILogger logger, string peer, string reason);

    [LoggerMessage(EventId = LogEvents.PeerLinkOpened, Level = LogLevel.Information, Message = "Peer link to {Peer} open ({Remote}, {Direction}, round trip {RttMs} ms)")]
    private static partial void LogOpened(ILogger logger, string peer, string remote, string direction, double rttMs);

    [LoggerMessage(EventId = LogEvents.PeerLinkClosed, Level = LogLevel.Information, Message = "Peer link to {Peer} closed: {Reason}")]
    private static partial void LogClosed(ILogger logger, string peer, string reason);

    [LoggerMessage(EventId = LogEvents.PeerRejected, Level = LogLevel.Warning, Message = "Refused a peer at {Remote}: {Reason} ({Detail})")]
    private static partial void LogRejected(ILogger logger, string remote, string reason, string detail);
}
