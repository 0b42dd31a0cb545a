using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Core.Resources;

/// <summary>
/// Reads the machine user's activity every METRICS_UPDATE_INTERVAL and switches the node between its two limit sets:
/// the idle limits (MAX_CPU_PERCENT, MAX_MEMORY_GB, ...) and, while the user is active, the active limits
/// (ACTIVE_MAX_CPU_PERCENT, ACTIVE_MAX_MEMORY_GB). On becoming active it lowers what the ledger allows (reservations
/// already held are kept) and has the task engine pause the running tasks that no longer fit; with RUN_ONLY_WHEN_IDLE it
/// also closes intake and pauses every task that can pause. On becoming idle it lifts all of that and resumes them.
/// The user is active while the latest sign of activity is less than IDLE_AFTER old; a headless machine is always idle.
/// </summary>
/// <remarks>
/// Thread-safe: <see cref="CheckNowAsync"/> may be called beside the loop (tests do); checks run one at a time.
/// Until the first check, a node whose limits differ when the user is active assumes the user is active.
/// </remarks>
public sealed partial class UserActivityMonitor : BackgroundService
{
    private readonly IUserActivity _activity;
    private readonly IResourceLedger _ledger;
    private readonly IntakeState _intake;
    private readonly IRunningTaskLimiter _tasks;
    private readonly ResourceOptions _options;
    private readonly MonitoringOptions _monitoring;
    private readonly ResourceAmounts _activeCap;
    private readonly TimeProvider _time;
    private readonly ILogger<UserActivityMonitor> _logger;
    private readonly SemaphoreSlim _checking = new(1, 1);
    private volatile UserActivityState _current;

    /// <param name="activeCap">What applies on top of the ledger's maximum while the user is active (<see cref="SystemCapacity.ActiveCap"/>).</param>
    public UserActivityMonitor(
        IUserActivity activity,
        IResourceLedger ledger,
        IntakeState intake,
        IRunningTaskLimiter tasks,
        ResourceOptions options,
        MonitoringOptions monitoring,
        ResourceAmounts activeCap,
        TimeProvider time,
        ILogger<UserActivityMonitor> logger)
    {
        _activity = activity;
        _ledger = ledger;
        _intake = intake;
        _tasks = tasks;
        _options = options;
        _monitoring = monitoring;
        _activeCap = activeCap;
        _time = time;
        _logger = logger;

        // Constructed before any hosted service starts, so before the engine starts queued tasks: when the user's activity
        // matters, nothing starts beyond the active limits until the first check says the user is idle.
        var assumeActive = options.ActiveLimitsDiffer;
        _current = new UserActivityState { UserActive = assumeActive, Source = "not checked yet", Since = time.GetUtcNow() };
        if (assumeActive)
        {
            _ledger.SetLimit(activeCap);
            if (options.RunOnlyWhenIdle)
            {
                _intake.SetUserActive("the machine's user has not been checked yet");
            }
        }
    }

    /// <summary>The latest state; immutable, swapped atomically.</summary>
    public UserActivityState Current => _current;

    /// <summary>What the ledger allows while the user is active.</summary>
    public ResourceAmounts ActiveLimits => _ledger.Maximum.Min(_activeCap);

    /// <summary>What the ledger allows while the user is idle.</summary>
    public ResourceAmounts IdleLimits => _ledger.Maximum;

    /// <summary>Reads the user's activity now and applies the limits it calls for. The loop calls it; tests call it directly.</summary>
    public async Task<UserActivityState> CheckNowAsync(CancellationToken cancellationToken)
    {
        await _checking.WaitAsync(cancellationToken);
        try
        {
            var reading = await _activity.ReadAsync(cancellationToken);
            var now = _time.GetUtcNow();
            TimeSpan? idleFor = reading.LastActivityAt is { } at ? (now > at ? now - at : TimeSpan.Zero) : null;
            var active = idleFor is { } idle && idle < _options.IdleAfter;
            var previous = _current;
            var changed = !previous.Checked || previous.UserActive != active;
            var state = new UserActivityState
            {
                Checked = true,
                UserActive = active,
                IdleFor = idleFor,
                Source = reading.Source,
                Problem = reading.Problem,
                CheckedAt = now,
                Since = changed ? now : previous.Since,
            };
            _current = state;
            Apply(state, changed);
            if (reading.Problem is { } problem && problem != previous.Problem)
            {
                LogReadProblem(_logger, problem);
            }

            return state;
        }
        finally
        {
            _checking.Release();
        }
    }

    public override void Dispose()
    {
        _checking.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_monitoring.MetricsUpdateInterval, _time);
        do
        {
            try
            {
                await CheckNowAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException)
            {
                LogCheckFailed(_logger, e);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private void Apply(UserActivityState state, bool changed)
    {
        if (!state.UserActive)
        {
            if (changed)
            {
                _ledger.SetLimit(null);
                _intake.SetUserActive(null);
                _tasks.LimitRunning(null);
                if (state.IdleFor is { } idle)
                {
                    LogIdle(_logger, state.Source, Math.Round(idle.TotalSeconds));
                }
                else
                {
                    LogHeadless(_logger);
                }
            }

            return;
        }

        var why = Describe(state);
        if (_options.RunOnlyWhenIdle)
        {
            // The reason carries how long ago the input was, so it is refreshed at every check.
            _intake.SetUserActive(why);
        }

        if (changed)
        {
            _ledger.SetLimit(_activeCap);
            var allowed = _ledger.Allowed;
            _tasks.LimitRunning(_options.RunOnlyWhenIdle
                ? new RunLimit(null, $"the machine's user is active ({why}) and RUN_ONLY_WHEN_IDLE is true")
                : new RunLimit(allowed, $"the machine's user is active ({why}): running tasks may hold at most the active limits ({allowed.Cpu} cores, {allowed.MemoryMB} MB; ACTIVE_MAX_CPU_PERCENT, ACTIVE_MAX_MEMORY_GB)"));
            LogActive(_logger, state.Source, allowed.Cpu, allowed.MemoryMB);
        }
    }

    private static string Describe(UserActivityState state) =>
        state.IdleFor is { } idle && idle >= TimeSpan.FromSeconds(1)
            ? $"last activity {idle.TotalSeconds:F0} s ago, from {state.Source}"
            : $"active now, from {state.Source}";

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = Diagnostics.LogEvents.UserBecameActive, Level = LogLevel.Information, Message = "The machine's user is active ({Source}); active limits in force: {Cpu} cores, {MemoryMB} MB")]
    private static partial void LogActive(ILogger logger, string source, double cpu, long memoryMB);

    [LoggerMessage(EventId = Diagnostics.LogEvents.UserBecameIdle, Level = LogLevel.Information, Message = "The machine's user is idle (last activity {IdleSeconds} s ago, from {Source}); idle limits in force")]
    private static partial void LogIdle(ILogger logger, string source, double idleSeconds);

    [LoggerMessage(EventId = Diagnostics.LogEvents.UserAbsent, Level = LogLevel.Information, Message = "The machine is headless (no local login session and no input device): its user counts as idle; idle limits in force")]
    private static partial void LogHeadless(ILogger logger);

    [LoggerMessage(EventId = Diagnostics.LogEvents.UserActivityReadFailed, Level = LogLevel.Warning, Message = "Reading the machine user's activity: {Problem}")]
    private static partial void LogReadProblem(ILogger logger, string problem);

    [LoggerMessage(EventId = Diagnostics.LogEvents.UserActivityCheckFailed, Level = LogLevel.Warning, Message = "Checking the machine user's activity failed; keeping the limits in force")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception);
}

/// <summary>What the monitor last found. Immutable.</summary>
public sealed record UserActivityState
{
    /// <summary>False until the first check.</summary>
    public bool Checked { get; init; }

    /// <summary>True while the active limits are in force.</summary>
    public bool UserActive { get; init; }

    /// <summary>How long ago the user was last active; null when the machine is headless (or before the first check).</summary>
    public TimeSpan? IdleFor { get; init; }

    /// <summary>Where the latest sign of activity came from.</summary>
    public required string Source { get; init; }

    /// <summary>Why a source could not be read, or null.</summary>
    public string? Problem { get; init; }

    public DateTimeOffset? CheckedAt { get; init; }

    /// <summary>When <see cref="UserActive"/> took its current value.</summary>
    public required DateTimeOffset Since { get; init; }
}
