namespace Tenzro.Node.Core.Tasks;

/// <summary>What the machine ran short of: the <see cref="ResourceError"/> family.</summary>
public enum ResourceShortage
{
    /// <summary>The ledger could not reserve what the task asks (the machine shrank under it).</summary>
    Reservation,

    /// <summary>The requester used up its CPU-seconds or bytes.</summary>
    Quota,

    /// <summary>The machine is under memory or storage pressure (CRITICAL_MEMORY_PERCENT, CRITICAL_STORAGE_PERCENT).</summary>
    Pressure,

    /// <summary>The disk holding DATA_DIR is full.</summary>
    DiskFull,

    /// <summary>The task needed more memory than the node could give it.</summary>
    Memory,
}

/// <summary>What failed on the way to another node: the <see cref="NetworkError"/> family.</summary>
public enum NetworkFailure
{
    /// <summary>The link to the regional node was lost.</summary>
    RegionalLinkLost,

    /// <summary>A peer did not answer.</summary>
    PeerUnreachable,

    /// <summary>A TLS or hello handshake failed (wrong identity, clock skew, refused version).</summary>
    HandshakeFailed,
}

/// <summary>
/// A task failed because the machine ran short, not because of the task: its status says <c>errorKind: resource</c>.
/// The recovery is always the same: resubmit once <c>/health</c> is healthy (docs/RELIABILITY.md).
/// </summary>
public sealed class ResourceError(ResourceShortage shortage, string message, Exception? inner = null)
    : TaskExecutionException($"{Prefix}({NodeErrors.Name(shortage)}): {message}", inner)
{
    /// <summary>How a resource error's message starts, so that a stored error names its family.</summary>
    public const string Prefix = "resource error ";

    public ResourceShortage Shortage { get; } = shortage;

    public const string Recovery = "resubmit once /health is healthy; the operator frees what ran short (disk in DATA_DIR, memory, the quota's window)";
}

/// <summary>
/// A task failed because another node did not answer or could not be trusted: its status says
/// <c>errorKind: network</c>. The recovery is always the same: resubmit later; links reconnect by themselves.
/// </summary>
public sealed class NetworkError(NetworkFailure failure, string message, Exception? inner = null)
    : TaskExecutionException($"{Prefix}({NodeErrors.Name(failure)}): {message}", inner)
{
    /// <summary>How a network error's message starts, so that a stored error names its family.</summary>
    public const string Prefix = "network error ";

    public NetworkFailure Failure { get; } = failure;

    public const string Recovery = "resubmit later; the node redials the regional node and its peers by itself with capped backoff";
}

/// <summary>The words for each member of the two families, as messages and docs write them.</summary>
public static class NodeErrors
{
    public static string Name(ResourceShortage shortage) => shortage switch
    {
        ResourceShortage.Reservation => "reservation failed",
        ResourceShortage.Quota => "quota exceeded",
        ResourceShortage.Pressure => "under pressure",
        ResourceShortage.DiskFull => "disk full",
        _ => "out of memory",
    };

    public static string Name(NetworkFailure failure) => failure switch
    {
        NetworkFailure.RegionalLinkLost => "regional link lost",
        NetworkFailure.PeerUnreachable => "peer unreachable",
        _ => "handshake failed",
    };
}
