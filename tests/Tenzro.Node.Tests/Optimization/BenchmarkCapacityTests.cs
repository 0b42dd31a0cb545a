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
}
