using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Core.Resources;

/// <summary>Amounts of each resource the ledger tracks.</summary>
public sealed record ResourceAmounts(double Cpu, long MemoryMB, long StorageMB, int GpuCount, long GpuMemoryMB)
{
    public static ResourceAmounts From(TaskRequirements r) => new(r.Cpu, r.MemoryMB, r.StorageMB, r.GpuCount, r.GpuMemoryMB);

    public ResourceAmounts Minus(ResourceAmounts other) =>
        new(Cpu - other.Cpu, MemoryMB - other.MemoryMB, StorageMB - other.StorageMB, GpuCount - other.GpuCount, GpuMemoryMB - other.GpuMemoryMB);

    public ResourceAmounts Plus(ResourceAmounts other) =>
        new(Cpu + other.Cpu, MemoryMB + other.MemoryMB, StorageMB + other.StorageMB, GpuCount + other.GpuCount, GpuMemoryMB + other.GpuMemoryMB);

    /// <summary>Each resource of <paramref name="request"/> that is above this amount: (name, asked, available).</summary>
    public IEnumerable<(string Resource, double Asked, double Available)> Shortfalls(ResourceAmounts request)
    {
        // A small epsilon keeps fractional CPU sums (0.1 + 0.2) from refusing an exact fit.
        if (request.Cpu > Cpu + 1e-9)
        {
            yield return ("cpu", request.Cpu, Cpu);
        }

        if (request.MemoryMB > MemoryMB)
        {
            yield return ("memoryMB", request.MemoryMB, MemoryMB);
        }

        if (request.StorageMB > StorageMB)
        {
            yield return ("storageMB", request.StorageMB, StorageMB);
        }

        if (request.GpuCount > GpuCount)
        {
            yield return ("gpuCount", request.GpuCount, GpuCount);
        }

        if (request.GpuMemoryMB > GpuMemoryMB)
        {
            yield return ("gpuMemoryMB", request.GpuMemoryMB, GpuMemoryMB);
        }
    }
}

/// <summary>A reservation held by one task.</summary>
public sealed record Reservation(string TaskId, ResourceAmounts Amounts, DateTimeOffset ReservedAt);

/// <summary>The reservation ledger the task engine calls before and after each task.</summary>
/// <remarks>All members are thread-safe.</remarks>
public interface IResourceLedger
{
    /// <summary>What the operator allows the network to reserve in total.</summary>
    ResourceAmounts Allowed { get; }

    /// <summary>What is not reserved now.</summary>
    ResourceAmounts Free { get; }

    IReadOnlyList<Reservation> Reservations { get; }

    /// <summary>Reserves <paramref name="request"/> for <paramref name="taskId"/> if it fits in what is free.</summary>
    bool TryReserve(string taskId, ResourceAmounts request, out Reservation? reservation);

    /// <summary>Releases the task's reservation. Idempotent: returns true only the first time.</summary>
    bool Release(string taskId);
}

/// <summary>An in-memory ledger. Reservations are never persisted: the engine re-reserves for running tasks at start.</summary>
public sealed class ResourceLedger(ResourceAmounts allowed, TimeProvider time) : IResourceLedger
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Reservation> _reservations = new(StringComparer.Ordinal);
    private ResourceAmounts _reserved = new(0, 0, 0, 0, 0);

    public ResourceAmounts Allowed { get; } = allowed;

    public ResourceAmounts Free
    {
        get
        {
            lock (_lock)
            {
                return Allowed.Minus(_reserved);
            }
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

    public bool TryReserve(string taskId, ResourceAmounts request, out Reservation? reservation)
    {
        lock (_lock)
        {
            if (_reservations.TryGetValue(taskId, out reservation))
            {
                return true;
            }

            if (Allowed.Minus(_reserved).Shortfalls(request).Any())
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
}
