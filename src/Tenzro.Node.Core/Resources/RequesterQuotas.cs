using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Core.Resources;

/// <summary>
/// Per-requester quotas: tasks submitted per minute and CPU-seconds used per hour, over sliding windows.
/// A requester is the regional node, or a remote address until API keys exist. Loopback callers are not
/// limited unless QUOTA_LOOPBACK is true. Figures live in memory: a restart starts every window afresh.
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed class RequesterQuotas(QuotaOptions options, TimeProvider time)
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Window> _windows = new(StringComparer.Ordinal);

    public QuotaOptions Options => options;

    /// <summary>Counts a submission if the requester is within quota; otherwise says why and when to retry.</summary>
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
            var window = Get(requester);
            window.Trim(now);
            if (window.Submissions.Count >= options.TasksPerMinute)
            {
                retryAfter = window.Submissions.Peek() + Minute - now;
                reason = $"{requester} submitted {window.Submissions.Count} tasks in the last minute; QUOTA_TASKS_PER_MINUTE is {options.TasksPerMinute}";
                return false;
            }

            var used = window.CpuSeconds.Sum(c => c.Seconds);
            if (used >= options.CpuSecondsPerHour)
            {
                retryAfter = window.CpuSeconds.Peek().At + Hour - now;
                reason = $"{requester} used {used:F0} CPU-seconds in the last hour; QUOTA_CPU_SECONDS_PER_HOUR is {options.CpuSecondsPerHour}";
                return false;
            }

            window.Submissions.Enqueue(now);
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

        lock (_lock)
        {
            Get(requester).CpuSeconds.Enqueue((time.GetUtcNow(), cpuSeconds));
        }
    }

    private Window Get(string requester)
    {
        if (!_windows.TryGetValue(requester, out var window))
        {
            window = new Window();
            _windows[requester] = window;
        }

        return window;
    }

    private sealed class Window
    {
        public Queue<DateTimeOffset> Submissions { get; } = new();

        public Queue<(DateTimeOffset At, double Seconds)> CpuSeconds { get; } = new();

        public void Trim(DateTimeOffset now)
        {
            while (Submissions.Count > 0 && Submissions.Peek() <= now - Minute)
            {
                Submissions.Dequeue();
            }

            while (CpuSeconds.Count > 0 && CpuSeconds.Peek().At <= now - Hour)
            {
                CpuSeconds.Dequeue();
            }
        }
    }
}
