namespace Tenzro.Node.Core.Aggregation;

/// <summary>A peer kept out of this node's groups until <see cref="Until"/> (<c>GET /api/aggregation</c> <c>excluded</c>).</summary>
public sealed record Exclusion(string Id, string Reason, DateTimeOffset Until);

/// <summary>
/// Peers excluded from this node's groups for <see cref="Duration"/> (docs/AGGREGATION.md "Exclusion"): a member
/// outvoted by the redundancy majority of a split job (every member sees that in the committed group state), and a
/// peer that sent <see cref="Strikes"/> invalid group messages within <see cref="StrikeWindow"/> (bad signature,
/// stale or replayed, wrong sender, malformed, over the group quota). An excluded peer is no candidate, its
/// proposals are declined, and a leader removes it from the group. With a <see cref="GroupExclusionsFile"/> the
/// exclusions in force (and the jobs whose dissenters were excluded) outlast a restart.
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed class GroupExclusions
{
    /// <summary>How long an exclusion lasts.</summary>
    public static readonly TimeSpan Duration = TimeSpan.FromMinutes(10);

    /// <summary>Invalid messages within <see cref="StrikeWindow"/> that exclude a peer: one may be a clock or a retry.</summary>
    public const int Strikes = 3;

    public static readonly TimeSpan StrikeWindow = TimeSpan.FromMinutes(1);

    /// <summary>The reason of an exclusion for a lost majority vote.</summary>
    public const string Outvoted = "outvoted";

    /// <summary>Jobs whose dissenters were excluded that are remembered (the oldest are forgotten first).</summary>
    private const int MaxOutvotedSeen = 1024;

    private readonly TimeProvider _time;
    private readonly GroupExclusionsFile? _file;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Exclusion> _excluded = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Queue<DateTimeOffset>> _strikes = new(StringComparer.Ordinal);
    private readonly HashSet<string> _outvotedSeen = new(StringComparer.Ordinal);
    private readonly Queue<string> _outvotedOrder = new();

    /// <summary>Exclusions kept in memory only.</summary>
    public GroupExclusions(TimeProvider time)
        : this(time, null)
    {
    }

    /// <summary>Exclusions kept in <paramref name="file"/> too, so that they outlast a restart; those still in force are loaded now.</summary>
    public GroupExclusions(TimeProvider time, GroupExclusionsFile? file)
    {
        _time = time;
        _file = file;
        if (file is null)
        {
            return;
        }

        var saved = file.Load(_time.GetUtcNow());
        foreach (var exclusion in saved.Excluded)
        {
            _excluded[exclusion.Id] = exclusion;
        }

        foreach (var seen in saved.OutvotedSeen)
        {
            Seen(seen);
        }
    }

    /// <summary>Counts one invalid group message from <paramref name="id"/>; returns the exclusion when this one makes it.</summary>
    public Exclusion? Misbehaved(string id, string reason)
    {
        ArgumentNullException.ThrowIfNull(id);
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            if (Current(id, now) is not null)
            {
                return null;
            }

            if (!_strikes.TryGetValue(id, out var strikes))
            {
                _strikes[id] = strikes = new Queue<DateTimeOffset>();
            }

            strikes.Enqueue(now);
            while (strikes.Peek() <= now - StrikeWindow)
            {
                strikes.Dequeue();
            }

            if (strikes.Count < Strikes)
            {
                return null;
            }

            _strikes.Remove(id);
            return Add(id, reason, now);
        }
    }

    /// <summary>
    /// Excludes the members that <paramref name="state"/>'s jobs mark as outvoted, each once per job (the mark stays
    /// while the job does); returns the new exclusions. This node is never excluded by itself.
    /// </summary>
    public IReadOnlyList<Exclusion> Outvote(GroupState state, string self)
    {
        ArgumentNullException.ThrowIfNull(state);
        var now = _time.GetUtcNow();
        var added = new List<Exclusion>();
        lock (_lock)
        {
            foreach (var job in state.Jobs)
            {
                foreach (var member in job.Disagreed.Where(m => m != self))
                {
                    if (Seen(job.ParentId + "/" + member))
                    {
                        added.Add(Add(member, Outvoted, now));
                    }
                }
            }
        }

        return added;
    }

    public bool IsExcluded(string id) => Until(id) is not null;

    /// <summary>When the exclusion of <paramref name="id"/> ends; null when it is not excluded.</summary>
    public DateTimeOffset? Until(string id)
    {
        lock (_lock)
        {
            return Current(id, _time.GetUtcNow())?.Until;
        }
    }

    /// <summary>The exclusions in force, by id.</summary>
    public IReadOnlyList<Exclusion> Active()
    {
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            return [.. _excluded.Keys.ToList().Select(id => Current(id, now)).OfType<Exclusion>().OrderBy(e => e.Id, StringComparer.Ordinal)];
        }
    }

    private Exclusion Add(string id, string reason, DateTimeOffset now)
    {
        var exclusion = new Exclusion(id, reason, now + Duration);
        _excluded[id] = exclusion;
        _file?.Save(new SavedExclusions([.. _excluded.Values.Where(e => e.Until > now).OrderBy(e => e.Id, StringComparer.Ordinal)], [.. _outvotedOrder]));
        return exclusion;
    }

    /// <summary>Marks a job's dissenter as excluded for that job; false when it was marked already.</summary>
    private bool Seen(string jobMember)
    {
        if (!_outvotedSeen.Add(jobMember))
        {
            return false;
        }

        _outvotedOrder.Enqueue(jobMember);
        if (_outvotedOrder.Count > MaxOutvotedSeen)
        {
            _outvotedSeen.Remove(_outvotedOrder.Dequeue());
        }

        return true;
    }

    private Exclusion? Current(string id, DateTimeOffset now)
    {
        if (!_excluded.TryGetValue(id, out var exclusion))
        {
            return null;
        }

        if (exclusion.Until > now)
        {
            return exclusion;
        }

        _excluded.Remove(id);
        return null;
    }
}
