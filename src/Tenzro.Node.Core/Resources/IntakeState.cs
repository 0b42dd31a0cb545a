namespace Tenzro.Node.Core.Resources;

/// <summary>
/// Whether the node takes new work: it does not while draining (operator) or under resource pressure
/// (the sampler). Read on every submission; written rarely.
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed class IntakeState
{
    private volatile bool _draining;
    private volatile string? _pressure;

    public bool Draining => _draining;

    /// <summary>Why the node is under pressure (e.g. "memory at 93% is above CRITICAL_MEMORY_PERCENT 90"), or null.</summary>
    public string? Pressure => _pressure;

    /// <summary>Why a submission is refused now, or null when intake is open.</summary>
    public string? RefusalReason =>
        _draining ? "the node is draining; POST /api/node/resume to take work again"
        : _pressure is { } p ? $"the node is under resource pressure: {p}"
        : null;

    public event Action? Changed;

    public void SetDraining(bool draining)
    {
        _draining = draining;
        Changed?.Invoke();
    }

    public void SetPressure(string? reason)
    {
        _pressure = reason;
        Changed?.Invoke();
    }
}
