namespace Tenzro.Node.Core.Peers;

/// <summary>
/// Why something from a peer was refused: the <c>reason</c> label of <c>tenzro_p2p_rejected_total</c> and the
/// start of the security log line. A fixed list, so the metric's label set stays small.
/// </summary>
public static class P2pRejection
{
    public const string BadSignature = "bad_signature";
    public const string IdMismatch = "id_mismatch";
    public const string WrongId = "wrong_id";
    public const string Stale = "stale";
    public const string Replayed = "replayed";
    public const string Expired = "expired";
    public const string Oversized = "oversized";
    public const string Malformed = "malformed";
    public const string Version = "version";
    public const string Certificate = "certificate";
    public const string Flood = "flood";
    public const string Limit = "limit";
    public const string Duplicate = "duplicate";
    public const string Unexpected = "unexpected";
    public const string Blocked = "blocked";
}

/// <summary>A refusal: the metric reason and a sentence for the log and <c>lastError</c>.</summary>
public sealed record P2pRefusal(string Reason, string Detail)
{
    public override string ToString() => $"{Reason}: {Detail}";
}
