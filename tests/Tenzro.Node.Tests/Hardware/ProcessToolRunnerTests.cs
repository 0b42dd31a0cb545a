using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Hardware;

[Trait("Suite", "hardware")]
public sealed class ProcessToolRunnerTests
{
    private readonly ProcessToolRunner _runner = new();

    [Fact]
    public async Task RunAsync_ToolExitsZero_ReturnsItsOutput()
    {
        var result = await _runner.RunAsync("echo", ["hello"], TimeSpan.FromSeconds(5), Timeouts.Token()).WaitAsync(Timeouts.Short);

        Assert.Equal(ToolOutcome.Ok, result.Outcome);
        Assert.Equal("hello\n", result.Output);
    }

    [Fact]
    public async Task RunAsync_ToolNotOnPath_IsNotInstalled()
    {
        var result = await _runner.RunAsync("tenzro-no-such-tool", [], TimeSpan.FromSeconds(5), Timeouts.Token()).WaitAsync(Timeouts.Short);

        Assert.Equal(ToolOutcome.NotInstalled, result.Outcome);
    }

    [Fact]
    public async Task RunAsync_ToolFails_SaysHowWithItsError()
    {
        var result = await _runner.RunAsync("sh", ["-c", "echo broken driver >&2; exit 9"], TimeSpan.FromSeconds(5), Timeouts.Token()).WaitAsync(Timeouts.Short);

        Assert.Equal(ToolOutcome.Failed, result.Outcome);
        Assert.Contains("exited with 9", result.Detail);
        Assert.Contains("broken driver", result.Detail);
    }

    [Fact]
    public async Task RunAsync_ToolHangs_IsStoppedAtTheTimeout()
    {
        var marker = Path.Combine(Path.GetTempPath(), "tenzro-hang-" + Guid.NewGuid().ToString("N"));

        // The child writes the marker only if it outlives the kill; the whole tree must die.
        var result = await _runner.RunAsync("sh", ["-c", $"sleep 2; touch {marker}"], TimeSpan.FromMilliseconds(200), Timeouts.Token()).WaitAsync(Timeouts.Short);
        await Task.Delay(TimeSpan.FromSeconds(2.5));

        Assert.Equal(ToolOutcome.TimedOut, result.Outcome);
        Assert.Contains("did not finish", result.Detail);
        Assert.False(File.Exists(marker));
    }
}
