using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Core.Regional;

/// <summary>States of the regional link, as <c>/status</c> names them.</summary>
internal enum RegionalLinkState
{
    /// <summary>No regional node is configured: the node runs standalone.</summary>
    Disabled,

    /// <summary>Dialling, joining, or waiting to retry after a close or a failed join.</summary>
    Connecting,

    /// <summary>The regional node acknowledged the join with <c>network_state</c>.</summary>
    Joined,

    /// <summary>MAX_RECONNECT_ATTEMPTS consecutive failures (retrying continues), or a configuration that cannot work.</summary>
    Failed,
}

/// <summary>An <c>error</c> the regional node answered, with the message it is attributed to.</summary>
internal sealed record RegionalErrorRecord(DateTimeOffset At, string Error, string? MessageType, string? TaskId, long? OutboxSequence);

/// <summary>Frames from the regional node that were dropped, by cause.</summary>
internal sealed record DroppedFrameCounts(long Malformed, long Oversized, long BadSignature, long Unsigned);

/// <summary>A consistent snapshot of the link, for <c>/status</c>, <c>/health</c> and <c>/api/network/status</c>. Immutable.</summary>
internal sealed record RegionalLinkSnapshot
{
    public required RegionalLinkState State { get; init; }
    public Uri? Url { get; init; }
    public required DateTimeOffset Since { get; init; }
    public long Reconnects { get; init; }
    public int ConsecutiveFailures { get; init; }
    public string? Reason { get; init; }
    public DateTimeOffset? JoinedAt { get; init; }
    public double? LastJoinRoundTripMs { get; init; }
    public JsonObject? LastNodeStatus { get; init; }
    public DateTimeOffset? LastNodeStatusAt { get; init; }
    public IReadOnlyList<JsonObject> Peers { get; init; } = [];
    public IReadOnlyList<RegionalErrorRecord> RecentErrors { get; init; } = [];
    public DroppedFrameCounts Dropped { get; init; } = new(0, 0, 0, 0);

    /// <summary>The regional node's pinned key (base64), null while unpinned.</summary>
    public string? PinnedKey { get; init; }

    /// <summary>What pinned it: REGIONAL_NODE_KEY or the first signed frame.</summary>
    public string? PinnedBy { get; init; }

    /// <summary>reward_distribution messages not credited (not a task this node completed for the regional node, repeated, or over the cap).</summary>
    public long RefusedRewards { get; init; }

    public string StateName => Name(State);

    public static string Name(RegionalLinkState state) => state switch
    {
        RegionalLinkState.Disabled => "disabled",
        RegionalLinkState.Connecting => "connecting",
        RegionalLinkState.Joined => "joined",
        _ => "failed",
    };
}

/// <summary>
/// The regional link as the API and health checks see it: its state and a way to reset it. The host's
/// <c>RegionalLink</c> implements it; endpoints depend on this interface only.
/// </summary>
/// <remarks>Implementations are thread-safe.</remarks>
internal interface IRegionalLinkStatus
{
    /// <summary>A consistent, immutable view of the link now.</summary>
    RegionalLinkSnapshot Snapshot();

    /// <summary>Closes the link and reconnects at once; false when the link is not retrying (standalone or misconfigured).</summary>
    bool RequestReset();
}
