namespace Tenzro.Node.Core.Peers;

/// <summary>
/// The peer links as the API, the CLI's endpoints and health checks see them. The host's link service implements
/// it; endpoints depend on this interface and on <see cref="PeerTable"/> only.
/// </summary>
/// <remarks>Implementations are thread-safe.</remarks>
public interface IPeerLinks
{
    /// <summary>The bound TCP port of the peer-link listener; 0 when it is not listening.</summary>
    int Port { get; }

    /// <summary>Why the listener is not running; null while it is.</summary>
    string? ListenerError { get; }

    int OpenLinks { get; }

    /// <summary>MAX_PEER_LINKS.</summary>
    int MaxLinks { get; }

    /// <summary>Closes the link to <paramref name="peerId"/> with <paramref name="reason"/>; false when none was open.</summary>
    Task<bool> CloseAsync(string peerId, string reason);

    /// <summary>Closes every link and dials the static entries again at once; returns how many links were closed.</summary>
    Task<int> RedialAsync();
}
