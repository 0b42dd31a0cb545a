using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Core.Resources;

/// <summary>
/// Per-requester CPU quota: CPU-seconds (reserved cores × run time) used per hour, over a sliding window. A
/// requester is an API key, else a remote address (an IPv6 address by its /64); the rate of submissions is
/// the HTTP rate limiter's job. Loopback callers are not limited unless QUOTA_LOOPBACK is true. Figures live
/// in memory: a restart starts every window afresh, and a requester whose window empties is forgotten.
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed class RequesterQuotas(QuotaOptions options, TimeProvider time)
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Queue<(DateTimeOffset At, double Seconds)>> _windows = new(StringComparer.Ordinal);

    public QuotaOptions Options => options;

    /// <summary>Requesters with CPU-seconds in the last hour.</summary>
    public int Tracked
    {
        get
        {
            lock (_lock)
            {
                return _windows.Count;
            }
        }
    }

    /// <summary>Whether the requester is within its CPU quota; otherwise says why and when to retry.</summary>
    public bool TryAdmit(string requester, bool isLoopback, out TimeSpan retryAfter, out string? reason)
    {
        retryAfter = TimeSpan.Zero;
        reason = null;
        if (isLoopback && !options.ApplyToLoopback)
        {
            return true;
        }

        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (!_windows.TryGetValue(requester, out var window) || !Trim(requester, window, now))
            {
                return true;
            }

            var used = window.Sum(c => c.Seconds);
            if (used >= options.CpuSecondsPerHour)
            {
                retryAfter = window.Peek().At + Hour - now;
                reason = $"{requester} used {used:F0} CPU-seconds in the last hour; QUOTA_CPU_SECONDS_PER_HOUR is {options.CpuSecondsPerHour}";
                return false;
            }

            return true;
        }
    }

    /// <summary>Charges the CPU-seconds a finished task used (its threads' measured CPU time where its runtime measures it) to its requester.</summary>
    public void Charge(string requester, double cpuSeconds)
    {
        if (cpuSeconds <= 0)
        {
            return;
        }

        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (!_windows.TryGetValue(requester, out var window))
            {
                window = new Queue<(DateTimeOffset, double)>();
                _windows[requester] = window;
            }

            window.Enqueue((now, cpuSeconds));
            foreach (var (other, otherWindow) in _windows.ToList())
            {
                Trim(other, otherWindow, now);
            }
        }
    }

    /// <summary>Drops charges older than an hour; forgets the requester when none is left. False when forgotten.</summary>
    private bool Trim(string requester, Queue<(DateTimeOffset At, double Seconds)> window, DateTimeOffset now)
    {
        while (window.Count > 0 && window.Peek().At <= now - Hour)
        {
            window.Dequeue();
        }

        if (window.Count == 0)
        {
            _windows.Remove(requester);
            return false;
        }

        return true;
    }
}
