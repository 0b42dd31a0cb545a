using Tenzro.Node.Hosting;

namespace Tenzro.Node.Tests.Optimization;

[Trait("Suite", "optimization")]
public sealed class GcChoiceTests
{
    private const long GB = 1024L * 1024 * 1024;

    [Fact]
    public void Auto_TwoCoresEightGigabytes_Workstation()
    {
        var decision = GcChoice.Decide("auto", 2, 8 * GB, null);

        Assert.False(decision.Server);
        Assert.False(decision.Fixed);
        Assert.Contains("2 cores and 8 GB seen by the runtime: workstation", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_SixtyFourCores256Gigabytes_Server()
    {
        var decision = GcChoice.Decide("auto", 64, 256 * GB, null);

        Assert.True(decision.Server);
        Assert.Contains("64 cores and 256 GB seen by the runtime: server", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_ManyCoresUnderAOneGigabyteCgroup_Workstation()
    {
        Assert.False(GcChoice.Decide("auto", 16, 1 * GB, null).Server);
        Assert.False(GcChoice.Decide("auto", 4, 64 * GB, null).Server);
    }

    [Theory]
    [InlineData("server", true)]
    [InlineData("workstation", false)]
    public void Setting_WinsOverTheRule(string setting, bool server)
    {
        var decision = GcChoice.Decide(setting, server ? 2 : 64, server ? 2 * GB : 256 * GB, null);

        Assert.Equal(server, decision.Server);
        Assert.Equal("GC_MODE is set", decision.Reason);
    }

    [Fact]
    public void OperatorsDotnetGcServer_WinsAndIsNeverRestartedOver()
    {
        var decision = GcChoice.Decide("server", 64, 256 * GB, "0");

        Assert.False(decision.Server);
        Assert.True(decision.Fixed);
        Assert.Contains("DOTNET_gcServer=0", decision.Reason, StringComparison.Ordinal);
    }
}
