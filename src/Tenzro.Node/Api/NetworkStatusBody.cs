using System.Text.Json.Nodes;
using Tenzro.Node.Core.Dht;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Lan;
using Tenzro.Node.Core.Regional;

namespace Tenzro.Node.Api;

/// <summary><c>GET /api/network/status</c>: the regional link in detail, the peer links, LAN discovery, the DHT and the group's Raft port.</summary>
internal sealed record NetworkStatusBody(
    RegionalLinkBody Regional,
    NetworkEarningsBody Earnings,
    IReadOnlyList<JsonObject> Peers,
    PeerLinksBody Links,
    LanStatus Lan,
    DhtBody Dht,
    P2pBody P2p,
    int? RaftPort);

/// <summary>The regional link: its state, the join, the last <c>node_status</c> sent, the outbox, dropped frames, the pinned key and the regional node's errors.</summary>
internal sealed record RegionalLinkBody(
    string State,
    string? Url,
    string Since,
    string? Reason,
    long Reconnects,
    int ConsecutiveFailures,
    string? JoinedAt,
    double? LastJoinRoundTripMs,
    JsonObject? LastNodeStatus,
    string? LastNodeStatusAt,
    long OutboxDepth,
    DroppedFrameCounts DroppedFrames,
    RegionalKeyBody RegionalKey,
    IReadOnlyList<string> Warnings,
    long RefusedRewards,
    IReadOnlyList<RegionalErrorBody> RecentErrors)
{
    private const string Unpinned = "unpinned: the regional node has signed no frame and REGIONAL_NODE_KEY is not set, so frames from the link cannot be told from forged ones; set REGIONAL_NODE_KEY to its public key";

    public static RegionalLinkBody Of(RegionalLinkSnapshot s, long outboxDepth) => new(
        s.StateName,
        s.Url?.ToString(),
        Timestamps.FormatPrecise(s.Since),
        s.Reason,
        s.Reconnects,
        s.ConsecutiveFailures,
        s.JoinedAt is { } joined ? Timestamps.FormatPrecise(joined) : null,
        s.LastJoinRoundTripMs,
        s.LastNodeStatus,
        s.LastNodeStatusAt is { } sent ? Timestamps.FormatPrecise(sent) : null,
        outboxDepth,
        s.Dropped,
        new RegionalKeyBody(s.PinnedKey is not null, s.PinnedBy, s.PinnedKey),
        s.State != RegionalLinkState.Disabled && s.PinnedKey is null ? [Unpinned] : [],
        s.RefusedRewards,
        [.. s.RecentErrors.Select(e => new RegionalErrorBody(Timestamps.FormatPrecise(e.At), e.Error, e.MessageType, e.TaskId))]);
}

/// <summary>The regional node's key: whether it is pinned, by what (REGIONAL_NODE_KEY or the first signed frame), and the key.</summary>
internal sealed record RegionalKeyBody(bool Pinned, string? By, string? PublicKey);

/// <summary>An <c>error</c> the regional node answered, with the message it is attributed to.</summary>
internal sealed record RegionalErrorBody(string At, string Error, string? MessageType, string? TaskId);

/// <summary>Earnings in full: the total, the number of rewards and the last one's time.</summary>
internal sealed record NetworkEarningsBody(double Total, long Rewards, string? LastRewardAt)
{
    public static NetworkEarningsBody Of(EarningsTotals totals) =>
        new(totals.Total, totals.Rewards, totals.LastRewardAt is { } at ? Timestamps.FormatPrecise(at) : null);
}

/// <summary>Peer links open, and the most allowed.</summary>
internal sealed record PeerLinksBody(int Open, int Max);

/// <summary>The DHT: its state, UDP port (null while unbound), routing table and records.</summary>
internal sealed record DhtBody(bool Enabled, string State, int? Port, string? Error, int RoutingTableSize, int StaleContacts, int BucketsInUse, int Records, string? LastRefreshAt)
{
    public static DhtBody Of(IDhtStatus dht) => new(
        dht.Enabled, dht.State, dht.Port == 0 ? null : dht.Port, dht.Error, dht.RoutingTableSize, dht.StaleContacts, dht.BucketsInUse, dht.Records,
        dht.LastRefreshAt is { } refreshed ? Timestamps.FormatPrecise(refreshed) : null);
}

/// <summary>The peer links' listener: host, port (null while unbound), listening or failed.</summary>
internal sealed record P2pBody(string Host, int? Port, string State, string? Error);
