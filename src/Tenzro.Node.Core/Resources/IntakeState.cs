namespace Tenzro.Node.Core.Resources;

/// <summary>
/// Whether the node takes new work: it does not while draining (operator), under resource pressure (the
/// sampler), or while the machine's user is active with RUN_ONLY_WHEN_IDLE (the user activity monitor).
/// Read on every submission; written rarely.
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed class IntakeState
{
    private volatile bool _draining;
    private volatile string? _pressure;
    private volatile string? _userActive;

    public bool Draining => _draining;

    /// <summary>Why the node is under pressure (e.g. "memory at 93% is above CRITICAL_MEMORY_PERCENT 90"), or null.</summary>
    public string? Pressure => _pressure;

    /// <summary>
    /// Why tasks wait for the machine's user (e.g. "keyboard or mouse input 40 s ago"), or null. Set only with
    /// RUN_ONLY_WHEN_IDLE: while it is set, submissions are refused and no queued task starts.
    /// </summary>
    public string? UserActive => _userActive;

    /// <summary>Why a submission is refused now, or null when intake is open.</summary>
    public string? RefusalReason =>
        _draining ? "the node is draining; POST /api/node/resume to take work again"
        : _pressure is { } p ? $"the node is under resource pressure: {p}"
        : _userActive is { } u ? $"the machine's user is active and RUN_ONLY_WHEN_IDLE is true ({u}); tasks are taken again once the user is idle"
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

    public void SetUserActive(string? reason)
    {
        _userActive = reason;
        Changed?.Invoke();
    }
}
