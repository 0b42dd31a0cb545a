using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Resources;

/// <summary>A worker's CPU quota that the kernel refuses is reported with the write it refused, not dropped in silence.</summary>
[Trait("Suite", "resources")]
public sealed class ThreadCpuTests
{
    [Fact]
    public void LimitProcess_NoSuchProcess_ReportsTheRefusedWriteAndHoldsNothing()
    {
        var refusals = new List<string>();

        using var quota = ThreadCpu.LimitProcess(int.MaxValue, 0.25, refusals.Add);

        Assert.Null(quota);
        if (ThreadCpu.CanLimit)
        {
            var refusal = Assert.Single(refusals);
            Assert.Contains($"write {int.MaxValue} to ", refusal, StringComparison.Ordinal);
            Assert.Contains("cgroup.procs", refusal, StringComparison.Ordinal);
        }
        else
        {
            // Where no group can be made, nothing is tried, so nothing is refused.
            Assert.Empty(refusals);
        }
    }

    [Fact]
    public void LimitProcess_WholeCores_MakesNoGroup()
    {
        var refusals = new List<string>();

        using var quota = ThreadCpu.LimitProcess(Environment.ProcessId, 2, refusals.Add);

        Assert.Null(quota);
        Assert.Empty(refusals);
    }
}
