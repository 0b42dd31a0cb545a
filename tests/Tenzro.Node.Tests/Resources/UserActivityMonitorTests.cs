using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Resources;

/// <summary>The monitor with a fake user and a fake clock: which limits are in force, and what intake and the engine are told.</summary>
[Trait("Suite", "resources")]
public sealed class UserActivityMonitorTests
{
    private static readonly ResourceAmounts Idle = new(8, 16384, 100_000, 0, 0);

    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1718030000));
    private readonly ResourceLedger _ledger;
    private readonly IntakeState _intake = new();
    private readonly RecordingLimiter _limiter = new();
    private readonly FakeUserActivity _user;

    public UserActivityMonitorTests()
    {
        _ledger = new ResourceLedger(Idle, _time);
        _user = new FakeUserActivity(_time);
    }

    private UserActivityMonitor Create(ResourceOptions options) =>
        new(_user, _ledger, _intake, _limiter, options, new MonitoringOptions { MetricsUpdateInterval = TimeSpan.FromSeconds(15) },
            ResourceAmounts.Unlimited with { Cpu = 2, MemoryMB = 4096 }, _time, NullLogger<UserActivityMonitor>.Instance);

    private static ResourceOptions Limits(bool runOnlyWhenIdle = false) =>
        new() { ActiveMaxCpuPercent = 25, ActiveMaxMemoryGb = 4, RunOnlyWhenIdle = runOnlyWhenIdle, IdleAfter = TimeSpan.FromMinutes(5) };

    [Fact]
    public async Task CheckNow_UserActive_PutsTheActiveLimitsInForceAndLimitsRunningTasks()
    {
        using var monitor = Create(Limits());
        _user.Active = true;

        var state = await monitor.CheckNowAsync(Timeouts.Token());

        Assert.True(state.UserActive);
        Assert.Equal(new ResourceAmounts(2, 4096, 100_000, 0, 0), _ledger.Allowed);
        Assert.Equal(Idle, _ledger.Maximum);
        var limit = Assert.IsType<RunLimit>(_limiter.Limits[^1]);
        Assert.Equal(_ledger.Allowed, limit.Amounts);
        Assert.Contains("ACTIVE_MAX_CPU_PERCENT", limit.Reason);
        Assert.Null(_intake.RefusalReason);
    }

    [Fact]
    public async Task CheckNow_UserIdleAgain_RestoresTheIdleLimitsAndLiftsTheLimit()
    {
        using var monitor = Create(Limits());
        _user.Active = true;
        await monitor.CheckNowAsync(Timeouts.Token());

        _user.Active = false;
        var state = await monitor.CheckNowAsync(Timeouts.Token());

        Assert.False(state.UserActive);
        Assert.Equal(Idle, _ledger.Allowed);
        Assert.Null(_limiter.Limits[^1]);
    }

    [Fact]
    public async Task CheckNow_InputYoungerThanIdleAfter_IsActiveOlderIsIdle()
    {
        using var monitor = Create(Limits());

        _user.InputAgo = TimeSpan.FromMinutes(4);
        var recent = await monitor.CheckNowAsync(Timeouts.Token());
        _user.InputAgo = TimeSpan.FromMinutes(5);
        var old = await monitor.CheckNowAsync(Timeouts.Token());

        Assert.True(recent.UserActive);
        Assert.Equal(TimeSpan.FromMinutes(4), recent.IdleFor);
        Assert.False(old.UserActive);
        Assert.Equal(TimeSpan.FromMinutes(5), old.IdleFor);
    }

    [Fact]
    public async Task CheckNow_Headless_IsIdleWithNoIdleTime()
    {
        using var monitor = Create(Limits());
        _user.InputAgo = null;

        var state = await monitor.CheckNowAsync(Timeouts.Token());

        Assert.False(state.UserActive);
        Assert.Null(state.IdleFor);
        Assert.Equal(UserActivityReading.HeadlessSource, state.Source);
        Assert.Equal(Idle, _ledger.Allowed);
    }

    [Fact]
    public async Task CheckNow_RunOnlyWhenIdleAndUserActive_ClosesIntakeAndPausesEveryTask()
    {
        using var monitor = Create(Limits(runOnlyWhenIdle: true));
        _user.Active = true;

        await monitor.CheckNowAsync(Timeouts.Token());
        var refusal = _intake.RefusalReason;
        _user.Active = false;
        await monitor.CheckNowAsync(Timeouts.Token());

        Assert.Contains("RUN_ONLY_WHEN_IDLE", refusal);
        Assert.Contains("test keyboard", refusal);
        var limit = Assert.IsType<RunLimit>(_limiter.Limits[^2]);
        Assert.Null(limit.Amounts);
        Assert.Null(_intake.RefusalReason);
        Assert.Null(_limiter.Limits[^1]);
    }

    [Fact]
    public void Constructor_LimitsThatDependOnTheUser_AssumeActiveUntilTheFirstCheck()
    {
        using var monitor = Create(Limits(runOnlyWhenIdle: true));

        Assert.Contains("not been checked", _intake.UserActive);
        Assert.Equal(2, _ledger.Allowed.Cpu);
        Assert.False(monitor.Current.Checked);
    }

    [Fact]
    public async Task Loop_UserBecomesActiveBetweenTicks_SwitchesAtTheNextTick()
    {
        using var monitor = Create(Limits());
        await monitor.StartAsync(Timeouts.Token());
        await WaitUntilAsync(() => monitor.Current.Checked);
        var before = _ledger.Allowed;

        _user.Active = true;
        _time.Advance(TimeSpan.FromSeconds(15));
        await WaitUntilAsync(() => monitor.Current.UserActive);
        var during = _ledger.Allowed;
        _user.Active = false;
        _time.Advance(TimeSpan.FromSeconds(15));
        await WaitUntilAsync(() => !monitor.Current.UserActive);
        await monitor.StopAsync(Timeouts.Token());

        Assert.Equal(Idle, before);
        Assert.Equal(2, during.Cpu);
        Assert.Equal(4096, during.MemoryMB);
        Assert.Equal(Idle, _ledger.Allowed);
    }

    [Fact]
    public void ActiveCap_EmptySettings_CapNothingAndSetOnesCapTheirResource()
    {
        var none = SystemCapacity.ActiveCap(new ResourceOptions(), null);
        var some = SystemCapacity.ActiveCap(new ResourceOptions { ActiveMaxCpuPercent = 50, ActiveMaxMemoryGb = 1.5 }, null);

        Assert.Equal(ResourceAmounts.Unlimited, none);
        Assert.Equal(Math.Round(Environment.ProcessorCount * 0.5, 2), some.Cpu);
        Assert.Equal(1536, some.MemoryMB);
        Assert.Equal(long.MaxValue, some.StorageMB);
    }

    private static Task WaitUntilAsync(Func<bool> condition) => ResourcesApiTests.WaitUntilAsync(condition);

    private sealed class RecordingLimiter : IRunningTaskLimiter
    {
        private readonly Lock _lock = new();
        private readonly List<RunLimit?> _limits = [];

        public IReadOnlyList<RunLimit?> Limits
        {
            get
            {
                lock (_lock)
                {
                    return [.. _limits];
                }
            }
        }

        public void LimitRunning(RunLimit? limit)
        {
            lock (_lock)
            {
                _limits.Add(limit);
            }
        }
    }
}
