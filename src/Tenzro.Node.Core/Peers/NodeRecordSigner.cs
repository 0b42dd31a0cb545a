using Tenzro.Node.Core.Identity;

namespace Tenzro.Node.Core.Peers;

/// <summary>
/// Keeps this node's own record: re-signs it with a higher <c>seq</c> when its content changes (the free figures
/// are coarse, so a sample that moves them a little is no change) or when half of its lifetime has passed.
/// </summary>
/// <remarks>
/// Thread-safe. <c>seq</c> is at least the Unix time in seconds, so a restarted node's first record still beats
/// the ones it signed before the restart.
/// </remarks>
public sealed class NodeRecordSigner(NodeIdentity identity, TimeProvider time)
{
    /// <summary>How long a record is valid after it is signed.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);

    private readonly Lock _lock = new();
    private NodeRecord? _current;

    /// <summary>The record for <paramref name="content"/>: the current one while nothing meaningful changed, else a new one.</summary>
    public NodeRecord Current(NodeRecordContent content)
    {
        ArgumentNullException.ThrowIfNull(content);
        var coarse = content with { Free = content.Free.Coarse() };
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (_current is { } current && current.Content.SameAs(coarse) && now < current.ExpiresAt - (Lifetime / 2))
            {
                return current;
            }

            var seq = Math.Max((_current?.Seq ?? 0) + 1, now.ToUnixTimeSeconds());
            _current = NodeRecord.Create(identity, coarse, seq, now + Lifetime);
            return _current;
        }
    }
}
