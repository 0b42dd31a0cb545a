using Tenzro.Node.Hosting;

namespace Tenzro.Node.Networking.Dht;

internal sealed partial class DhtService
{
    [LoggerMessage(EventId = LogEvents.DhtListening, Level = LogLevel.Information, Message = "DHT listening on {Host}:{Port}/udp")]
    private static partial void LogListening(ILogger logger, string host, int port);

    [LoggerMessage(EventId = LogEvents.DhtBindFailed, Level = LogLevel.Error, Message = "The DHT is off: {Reason}. The node keeps serving its API and tasks")]
    private static partial void LogBindFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = LogEvents.DhtJoined, Level = LogLevel.Information, Message = "Joined the DHT: {Answered} of {Bootstrap} bootstrap contacts answered, {Saved} contacts saved from before, {TableSize} in the routing table")]
    private static partial void LogJoined(ILogger logger, int answered, int bootstrap, int saved, int tableSize);

    [LoggerMessage(EventId = LogEvents.DhtPublished, Level = LogLevel.Debug, Message = "Published this node's record (seq {Seq}, {Tier} in {Region}) on {UnderId} nodes under its id and {UnderTier} under its tier key")]
    private static partial void LogPublished(ILogger logger, long seq, string tier, string region, int underId, int underTier);

    [LoggerMessage(EventId = LogEvents.DhtPeerGone, Level = LogLevel.Information, Message = "DHT peer {Peer} gone: {Why}; no longer dialled")]
    private static partial void LogPeerGone(ILogger logger, string peer, string why);

    [LoggerMessage(EventId = LogEvents.DhtSaveFailed, Level = LogLevel.Warning, Message = "Saving the DHT routing table failed: {Reason}")]
    private static partial void LogSaveFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = LogEvents.DhtBootstrapUnresolved, Level = LogLevel.Warning, Message = "The DHT bootstrap entry {Entry} cannot be resolved: {Reason}")]
    private static partial void LogBootstrapUnresolved(ILogger logger, string entry, string reason);

    [LoggerMessage(EventId = LogEvents.DhtRejected, Level = LogLevel.Warning, Message = "Dropped a DHT datagram from {Remote}: {Reason} ({Detail})")]
    private static partial void LogRejected(ILogger logger, string remote, string reason, string detail);
}
