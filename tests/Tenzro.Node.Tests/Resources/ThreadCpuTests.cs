using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Resources;

/// <summary>
/// A thread's CPU time is read to well under a millisecond, so that a short task is charged what it used; a worker's
/// CPU quota that the kernel refuses is reported with the write it refused, not dropped in silence.
/// </summary>
[Trait("Suite", "resources")]
public sealed class ThreadCpuTests
{
    [Fact]
    public void Current_ThreadSpinsForTwoMilliseconds_CountsThatTimeAndNoMore()
    {
        var before = ThreadCpu.Current();
        var wall = System.Diagnostics.Stopwatch.StartNew();
        while (wall.Elapsed < TimeSpan.FromMilliseconds(2))
        {
            Thread.SpinWait(100);
        }

        var after = ThreadCpu.Current();
        var elapsed = wall.Elapsed;

        Assert.NotNull(before);
        var used = after!.Value - before.Value;
        Assert.True(used > TimeSpan.Zero, $"2 ms of spinning counted {used.TotalMilliseconds} ms of CPU");
        Assert.True(used <= elapsed + TimeSpan.FromMilliseconds(1), $"counted {used.TotalMilliseconds} ms of CPU in {elapsed.TotalMilliseconds} ms");
    }

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
