using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Aggregation;

namespace Tenzro.Node.Tests.Aggregation;

public sealed class GroupQuotaTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public void Admit_BurstOfTwoSecondsOfMessages_ThenDrops_AndRefillsWithTime()
    {
        var quota = new GroupQuota(_time);
        var burst = (int)(GroupQuota.MessagesPerSecond * GroupQuota.BurstSeconds);

        Assert.All(Enumerable.Range(0, burst), _ => Assert.Equal(QuotaVerdict.Admitted, quota.Admit("b", 100)));
        Assert.NotEqual(QuotaVerdict.Admitted, quota.Admit("b", 100));
        Assert.Equal(QuotaVerdict.Admitted, quota.Admit("c", 100));
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(QuotaVerdict.Admitted, quota.Admit("b", 100));
    }

    [Fact]
    public void Admit_OverTheByteRate_Drops()
    {
        var quota = new GroupQuota(_time);
        var burstBytes = (long)(GroupQuota.BytesPerSecond * GroupQuota.BurstSeconds);

        Assert.Equal(QuotaVerdict.Admitted, quota.Admit("b", burstBytes));
        Assert.NotEqual(QuotaVerdict.Admitted, quota.Admit("b", 1));
    }

    [Fact]
    public void Dropped_CountsOneStrikePerSecond()
    {
        var quota = new GroupQuota(_time);
        var burst = (int)(GroupQuota.MessagesPerSecond * GroupQuota.BurstSeconds);
        for (var i = 0; i < burst; i++)
        {
            quota.Admit("b", 10);
        }

        Assert.Equal(QuotaVerdict.DroppedStrike, quota.Admit("b", 10));
        Assert.Equal(QuotaVerdict.Dropped, quota.Admit("b", 10));
        Assert.Equal(QuotaVerdict.Dropped, quota.QueueFull("b"));
        _time.Advance(TimeSpan.FromMilliseconds(1001));

        Assert.Equal(QuotaVerdict.DroppedStrike, quota.QueueFull("b"));
    }

    [Fact]
    public void SustainedDrops_ExcludeThePeer()
    {
        // Three seconds with drops within a minute are three strikes: the inbox then excludes the peer.
        var quota = new GroupQuota(_time);
        var exclusions = new GroupExclusions(_time);
        Exclusion? excluded = null;
        for (var second = 0; second < 3; second++)
        {
            if (quota.QueueFull("b") == QuotaVerdict.DroppedStrike)
            {
                excluded = exclusions.Misbehaved("b", "group_quota");
            }

            _time.Advance(TimeSpan.FromSeconds(1.5));
        }

        Assert.NotNull(excluded);
        Assert.Equal("group_quota", excluded.Reason);
    }
}
