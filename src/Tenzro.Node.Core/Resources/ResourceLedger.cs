namespace Tenzro.Node.Core.Resources;

/// <summary>A reservation held by one task.</summary>
public sealed record Reservation(string TaskId, ResourceAmounts Amounts, DateTimeOffset ReservedAt);

/// <summary>The reservation ledger the task engine calls before and after each task.</summary>
/// <remarks>All members are thread-safe.</remarks>
public interface IResourceLedger
{
    /// <summary>
    /// What the operator allows the network to reserve now: <see cref="Maximum"/>, or less while a limit is set
    /// (the active limits while the machine's user is active).
    /// </summary>
    ResourceAmounts Allowed { get; }

    /// <summary>The most the ledger ever allows (the idle limits); a task asking for more can never run here.</summary>
    ResourceAmounts Maximum { get; }

    /// <summary>What the reservations held now add up to; may be above <see cref="Allowed"/> right after a limit is set.</summary>
    ResourceAmounts Reserved { get; }

    /// <summary>
    /// What is not reserved now: <see cref="Allowed"/> minus <see cref="Reserved"/> minus <see cref="Held"/>. A resource is
    /// negative while reservations held from before a limit are above it.
    /// </summary>
    ResourceAmounts Free { get; }

    /// <summary>What the node itself holds outside every task's reservation (its runtime workers at rest), by holder.</summary>
    IReadOnlyDictionary<string, ResourceAmounts> Holders { get; }

    /// <summary>The sum of <see cref="Holders"/>.</summary>
    ResourceAmounts Held { get; }

    /// <summary>
    /// Sets what <paramref name="holder"/> holds now (<see cref="ResourceAmounts.None"/> to let go of everything). It is
    /// taken from what is free whatever is left: a holder is never refused, and tasks then wait for what remains.
    /// </summary>
    void Hold(string holder, ResourceAmounts amounts);

    IReadOnlyList<Reservation> Reservations { get; }

    /// <summary>The reservation <paramref name="taskId"/> holds, or null.</summary>
    Reservation? ReservationOf(string taskId);

    /// <summary>Reserves <paramref name="request"/> for <paramref name="taskId"/> if it fits in what is free.</summary>
    bool TryReserve(string taskId, ResourceAmounts request, out Reservation? reservation);

    /// <summary>Releases the task's reservation. Idempotent: returns true only the first time.</summary>
    bool Release(string taskId);

    /// <summary>
    /// Sets what may be reserved from now on to <see cref="Maximum"/> capped by <paramref name="limit"/> in each resource, or
    /// back to <see cref="Maximum"/> when null. Reservations already held are kept whatever the new amount: nothing is released,
    /// and nothing more is reserved in a resource until what is held there is below the new amount.
    /// </summary>
    void SetLimit(ResourceAmounts? limit);

    /// <summary>
    /// Sets <see cref="Maximum"/> anew (the usable cores or memory changed while the node runs: a container resized), the
    /// limit in force still applied on top. As with <see cref="SetLimit"/>, reservations already held are kept.
    /// </summary>
    void SetMaximum(ResourceAmounts maximum);
}

/// <summary>An in-memory ledger. Reservations are never persisted: the engine re-reserves for running tasks at start.</summary>
public sealed class ResourceLedger(ResourceAmounts allowed, TimeProvider time) : IResourceLedger
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Reservation> _reservations = new(StringComparer.Ordinal);
    private ResourceAmounts _reserved = new(0, 0, 0, 0, 0);
    private ResourceAmounts _allowed = allowed;
    private ResourceAmounts _maximum = allowed;
    private ResourceAmounts? _limit;
    private readonly Dictionary<string, ResourceAmounts> _holders = new(StringComparer.Ordinal);
    private ResourceAmounts _held = ResourceAmounts.None;

    public ResourceAmounts Maximum
    {
        get
        {
            lock (_lock)
            {
                return _maximum;
            }
        }
    }

    public ResourceAmounts Allowed
    {
        get
        {
            lock (_lock)
            {
                return _allowed;
            }
        }
    }

    public ResourceAmounts Reserved
    {
        get
        {
            lock (_lock)
            {
                return _reserved;
            }
        }
    }

    public ResourceAmounts Free
    {
        get
        {
            lock (_lock)
            {
                return _allowed.Minus(_reserved).Minus(_held);
            }
        }
    }

    public IReadOnlyDictionary<string, ResourceAmounts> Holders
    {
        get
        {
            lock (_lock)
            {
                return new Dictionary<string, ResourceAmounts>(_holders, StringComparer.Ordinal);
            }
        }
    }

    public ResourceAmounts Held
    {
        get
        {
            lock (_lock)
            {
                return _held;
            }
        }
    }

    public void Hold(string holder, ResourceAmounts amounts)
    {
        lock (_lock)
        {
            if (amounts == ResourceAmounts.None)
            {
                _holders.Remove(holder);
            }
            else
            {
                _holders[holder] = amounts;
            }

            _held = _holders.Values.Aggregate(ResourceAmounts.None, (sum, held) => sum.Plus(held));
        }
    }

    public IReadOnlyList<Reservation> Reservations
    {
        get
        {
            lock (_lock)
            {
                return [.. _reservations.Values];
            }
        }
    }

    public Reservation? ReservationOf(string taskId)
    {
        lock (_lock)
        {
            return _reservations.GetValueOrDefault(taskId);
        }
    }

    public bool TryReserve(string taskId, ResourceAmounts request, out Reservation? reservation)
    {
        lock (_lock)
        {
            if (_reservations.TryGetValue(taskId, out reservation))
            {
                return true;
            }

            if (_allowed.Minus(_reserved).Minus(_held).Shortfalls(request).Any())
            {
                reservation = null;
                return false;
            }

            reservation = new Reservation(taskId, request, time.GetUtcNow());
            _reservations[taskId] = reservation;
            _reserved = _reserved.Plus(request);
            return true;
        }
    }

    public bool Release(string taskId)
    {
        lock (_lock)
        {
            if (!_reservations.Remove(taskId, out var reservation))
            {
                return false;
            }

            _reserved = _reserved.Minus(reservation.Amounts);
            return true;
        }
    }

    public void SetLimit(ResourceAmounts? limit)
    {
        lock (_lock)
        {
            _limit = limit;
            _allowed = limit is null ? _maximum : _maximum.Min(limit);
        }
    }

    public void SetMaximum(ResourceAmounts maximum)
    {
        ArgumentNullException.ThrowIfNull(maximum);
        lock (_lock)
        {
            _maximum = maximum;
            _allowed = _limit is null ? maximum : maximum.Min(_limit);
        }
    }
}
