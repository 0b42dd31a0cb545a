using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Optimization;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Optimization;

[Trait("Suite", "optimization")]
public sealed class BenchmarkCapacityTests
{
    [Fact]
    public void Of_BeforeTheBenchmarks_IsNull() =>
        Assert.Null(BenchmarkCapacity.Of(MachineProfiles.TwoCores(), null));

    [Fact]
    public void Of_HalfTheCoresAllowed_ReportsHalfTheAllCoreSpeedAndTheWholeSingleCoreSpeed()
    {
        var profile = MachineProfiles.BenchmarkedProfiler(1e9).Current;
        var dataDirectory = Directory.CreateTempSubdirectory("tenzro-capacity-").FullName;
        try
        {
            var allowed = SystemCapacity.Allowed(new ResourceOptions { MaxCpuPercent = 50 }, new StorageOptions { DataDirectory = dataDirectory }, profile);

            var capacity = BenchmarkCapacity.Of(profile, allowed)!;

            Assert.Equal(1e9, capacity["cpuOpsPerSecond"]!.GetValue<double>());
            Assert.Equal(1e9, capacity["singleCoreOpsPerSecond"]!.GetValue<double>());
            Assert.Null(capacity["gpuGflops"]);
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Theory]
    [InlineData(2.0, 2_000_000_000)] // all of the two cores free: the all-cores figure
    [InlineData(1.2, 1_000_000_000)] // 1.2 cores free, announced as 1 (the record's half-core steps): half of it
    [InlineData(0.3, 0)] // less than half a core free: nothing to offer
    public void FreeCpuOpsPerSecond_ScalesTheAllCoresFigureToTheFreeCoresTheRecordAnnounces(double freeCores, long expected)
    {
        var profile = MachineProfiles.BenchmarkedProfiler(1e9).Current;

        Assert.Equal(expected, BenchmarkCapacity.FreeCpuOpsPerSecond(profile, new ResourceAmounts(freeCores, 4096, 0, 0, 0)));
    }

    [Fact]
    public void FreeCpuOpsPerSecond_KeepsTwoSignificantDigits_AndIsNullBeforeTheBenchmarks()
    {
        var profile = MachineProfiles.BenchmarkedProfiler(1_234_567_890).Current;

        Assert.Equal(2_500_000_000, BenchmarkCapacity.FreeCpuOpsPerSecond(profile, new ResourceAmounts(2, 4096, 0, 0, 0)));
        Assert.Null(BenchmarkCapacity.FreeCpuOpsPerSecond(MachineProfiles.TwoCores(), new ResourceAmounts(2, 4096, 0, 0, 0)));
    }
}
