using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Resources;

[Trait("Suite", "resources")]
public sealed class PressureAndQuotaTests
{
    private sealed class FakeUsage : IUsageSource
    {
        public long MemoryAvailable { get; set; } = 8L << 30;

        public long StorageFree { get; set; } = 500L << 30;

        public int Cores => 2;

        public UsageReading Read() => new()
        {
            MemoryTotalBytes = 10L << 30,
            MemoryAvailableBytes = MemoryAvailable,
            StorageTotalBytes = 1000L << 30,
            StorageFreeBytes = StorageFree,
        };
    }

    private static (ResourceSampler Sampler, FakeUsage Usage, IntakeState Intake) Create(FakeTimeProvider time)
    {
        var usage = new FakeUsage();
        var intake = new IntakeState();
        var options = new ResourceOptions { CriticalMemoryPercent = 90, CriticalStoragePercent = 95 };
        var pressure = new PressureMonitor(intake, options, NullLogger<PressureMonitor>.Instance);
        var sampler = new ResourceSampler(usage, pressure, new MonitoringOptions(), time, NullLogger<ResourceSampler>.Instance);
        return (sampler, usage, intake);
    }

    [Fact]
    public void Sample_MemoryAboveCritical_StopsIntakeWithTheReason()
    {
        var (sampler, usage, intake) = Create(new FakeTimeProvider());
        usage.MemoryAvailable = (long)(0.05 * (10L << 30));

        sampler.SampleNow();

        Assert.Contains("CRITICAL_MEMORY_PERCENT 90", intake.RefusalReason);
        Assert.Contains("memory at 95.0%", intake.Pressure);
    }

    [Fact]
    public void Sample_BackJustBelowCritical_StaysPausedUntilBelowHysteresis()
    {
        var time = new FakeTimeProvider();
        var (sampler, usage, intake) = Create(time);
        usage.MemoryAvailable = (long)(0.05 * (10L << 30));
        sampler.SampleNow();

        usage.MemoryAvailable = (long)(0.12 * (10L << 30));
        time.Advance(TimeSpan.FromSeconds(15));
        sampler.SampleNow();
        var stillPaused = intake.Pressure;

        usage.MemoryAvailable = (long)(0.20 * (10L << 30));
        time.Advance(TimeSpan.FromSeconds(15));
        sampler.SampleNow();

        Assert.NotNull(stillPaused);
        Assert.Null(intake.Pressure);
        Assert.Null(intake.RefusalReason);
    }

    [Fact]
    public void Sample_StorageAboveCritical_NamesStorage()
    {
        var (sampler, usage, intake) = Create(new FakeTimeProvider());
        usage.StorageFree = 10L << 30;

        sampler.SampleNow();

        Assert.Contains("CRITICAL_STORAGE_PERCENT", intake.Pressure);
    }

    [Fact]
    public void TryAdmit_CpuSecondsUsedUp_RefusesUntilTheHourPasses()
    {
        var time = new FakeTimeProvider();
        var quotas = new RequesterQuotas(new QuotaOptions { CpuSecondsPerHour = 100 }, time);
        quotas.Charge("regional", 150);

        var refused = quotas.TryAdmit("regional", false, out var retryAfter, out var reason);
        time.Advance(TimeSpan.FromHours(1));
        var admitted = quotas.TryAdmit("regional", false, out _, out _);

        Assert.False(refused);
        Assert.Equal(TimeSpan.FromHours(1), retryAfter);
        Assert.Contains("CPU-seconds", reason);
        Assert.True(admitted);
        Assert.Equal(0, quotas.Tracked);
    }

    [Fact]
    public void TryAdmit_Loopback_IsUnlimitedByDefault()
    {
        var quotas = new RequesterQuotas(new QuotaOptions { CpuSecondsPerHour = 1 }, new FakeTimeProvider());
        quotas.Charge("127.0.0.1", 100);

        Assert.True(quotas.TryAdmit("127.0.0.1", true, out _, out _));
        Assert.False(quotas.TryAdmit("127.0.0.1", false, out _, out _));
    }

    [Fact]
    public void ParseProcFiles_RecordedFormats_GiveTheFigures()
    {
        const string stat = "cpu  100 5 50 800 40 0 5 0 0 0\ncpu0 50 2 25 400 20 0 2 0 0 0\n";
        const string meminfo = "MemTotal:       16384000 kB\nMemFree:         1000000 kB\nMemAvailable:    8192000 kB\n";
        const string netdev = "Inter-|   Receive\n face |bytes packets\n    lo: 999 1 0 0 0 0 0 0 999 1 0 0 0 0 0 0\n  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n";

        Assert.Equal((1000L, 840L), LinuxUsageSource.ParseProcStat(stat));
        Assert.Equal((16384000L * 1024, 8192000L * 1024), LinuxUsageSource.ParseMeminfo(meminfo));
        Assert.Equal((1000L, 2000L), LinuxUsageSource.ParseNetDev(netdev));
    }
}

[Trait("Suite", "resources")]
public sealed class NvidiaGpuUsageTests
{
    [Fact]
    public void Parse_NvidiaSmiQueryOutput_GivesUtilizationAndMemory()
    {
        const string csv = "NVIDIA H100 80GB HBM3, 37, 1024, 81559\nNVIDIA A10, 0, 0, 23028\n";

        var gpus = Tenzro.Node.Core.Resources.NvidiaGpuUsage.Parse(csv);

        Assert.Equal(2, gpus.Count);
        Assert.Equal("NVIDIA H100 80GB HBM3", gpus[0].Name);
        Assert.Equal(37, gpus[0].UtilizationPercent);
        Assert.Equal(1024L * 1024 * 1024, gpus[0].MemoryUsedBytes);
        Assert.Equal(23028L * 1024 * 1024, gpus[1].MemoryTotalBytes);
    }
}
