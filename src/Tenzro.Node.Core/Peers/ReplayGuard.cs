using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Core.Peers;

/// <summary>
/// Freshness of signed messages (<c>dht-rpc</c>, <c>peer-hello</c>, <c>group</c>): each carries <c>timestamp</c> and a
/// 16-byte random <c>nonce</c> (hex); it is accepted within ±300 s of this clock, and a nonce seen in that window is
/// a replay.
/// </summary>
/// <remarks>Thread-safe. Nonces are kept for twice the window, then forgotten; at most <see cref="Capacity"/> at once.</remarks>
public sealed class ReplayGuard(TimeProvider time)
{
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(300);

    /// <summary>Nonces remembered at most; beyond it new messages are refused until old ones age out.</summary>
    public const int Capacity = 200_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);
    private readonly Queue<(string Nonce, DateTimeOffset Forget)> _order = new();

    /// <summary>Adds a fresh <c>timestamp</c> and <c>nonce</c> to <paramref name="message"/>, then signs it in <paramref name="domain"/>.</summary>
    public JsonObject StampAndSign(JsonObject message, SignatureDomain domain, NodeIdentity identity)
    {
        ArgumentNullException.ThrowIfNull(message);
        message["timestamp"] = Timestamps.Format(time.GetUtcNow());
        message["nonce"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        return DomainSignature.Sign(message, domain, identity);
    }

    /// <summary>
    /// Checks a received message signed by <paramref name="publicKey"/> in <paramref name="domain"/>: the signature,
    /// then the timestamp window, then the nonce; the nonce is remembered only when everything else holds.
    /// </summary>
    public P2pRefusal? Check(JsonObject message, SignatureDomain domain, ReadOnlySpan<byte> publicKey)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!DomainSignature.Verify(message, domain, publicKey))
        {
            return new P2pRefusal(P2pRejection.BadSignature, $"the message is not signed by the peer's key in the {DomainSignature.Name(domain)} domain");
        }

        var now = time.GetUtcNow();
        if (Timestamps.Parse(message["timestamp"] is JsonValue t && t.TryGetValue<string>(out var ts) ? ts : null) is not { } timestamp)
        {
            return new P2pRefusal(P2pRejection.Malformed, "the message has no valid timestamp");
        }

        if ((now - timestamp).Duration() > Window)
        {
            return new P2pRefusal(P2pRejection.Stale, $"the message's timestamp is {(now - timestamp).TotalSeconds:F0} s from this node's clock (at most 300 s; check both clocks)");
        }

        if (message["nonce"] is not JsonValue n || !n.TryGetValue<string>(out var nonce) || nonce.Length != 32 || !nonce.All(char.IsAsciiHexDigitLower))
        {
            return new P2pRefusal(P2pRejection.Malformed, "the message's nonce is not 32 lowercase hex digits");
        }

        lock (_lock)
        {
            while (_order.TryPeek(out var oldest) && oldest.Forget <= now)
            {
                _order.Dequeue();
                _seen.Remove(oldest.Nonce);
            }

            if (_seen.ContainsKey(nonce))
            {
                return new P2pRefusal(P2pRejection.Replayed, "the message's nonce was seen before (a replay)");
            }

            if (_seen.Count >= Capacity)
            {
                return new P2pRefusal(P2pRejection.Flood, "too many messages in the replay window");
            }

            var forget = now + Window + Window;
            _seen[nonce] = forget;
            _order.Enqueue((nonce, forget));
        }

        return null;
    }
}
