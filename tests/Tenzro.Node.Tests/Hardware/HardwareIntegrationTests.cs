using System.Globalization;
using System.Text.RegularExpressions;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Hardware;

/// <summary>The real profiler on this machine, checked against nproc, free (and /proc/meminfo) and df.</summary>
[Trait("Suite", "hardware")]
public sealed partial class HardwareIntegrationTests : IDisposable
{
    private readonly string _dataDirectory = TestNode.NewDirectory();
    private readonly ProcessToolRunner _tools = new();

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);

    [Fact]
    public async Task CollectAsync_ThisMachine_LogicalCoresAreWhatNprocPrints()
    {
        var facts = await new LinuxHardwareSource(_tools).CollectAsync(_dataDirectory, Timeouts.Token());
        var nproc = await _tools.RunAsync("nproc", [], TimeSpan.FromSeconds(5), Timeouts.Token());

        Assert.Equal(ToolOutcome.Ok, nproc.Outcome);
        Assert.Equal(int.Parse(nproc.Output.Trim(), CultureInfo.InvariantCulture), facts.Cpu.LogicalCores);
        if (facts.LimitsApplied.All(l => l.Resource != "cpu"))
        {
            // Without a quota the runtime's count is the affinity count too.
            Assert.Equal(Environment.ProcessorCount, facts.Cpu.LogicalCores);
            Assert.Equal(facts.Cpu.LogicalCores, facts.Cpu.UsableCores);
        }
        else
        {
            Assert.True(facts.Cpu.UsableCores < facts.Cpu.LogicalCores);
        }
    }

    [Fact]
    public async Task CollectAsync_ThisMachine_TotalMemoryIsWhatFreeAndMemTotalSay()
    {
        var facts = await new LinuxHardwareSource(_tools).CollectAsync(_dataDirectory, Timeouts.Token());
        var memTotalKiB = long.Parse(MemTotal().Match(await File.ReadAllTextAsync("/proc/meminfo")).Groups[1].Value, CultureInfo.InvariantCulture);
        var free = await _tools.RunAsync("free", ["-b"], TimeSpan.FromSeconds(5), Timeouts.Token());
        var freeTotal = free.Output.Split('\n').Single(l => l.StartsWith("Mem:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];

        Assert.Equal(ToolOutcome.Ok, free.Outcome);
        Assert.Equal(long.Parse(freeTotal, CultureInfo.InvariantCulture), facts.Memory.TotalBytes);
        Assert.Equal(memTotalKiB * 1024, facts.Memory.TotalBytes);
        Assert.InRange(facts.Memory.UsableBytes, 1, facts.Memory.TotalBytes);
        Assert.InRange(facts.Memory.AvailableBytes, 1, facts.Memory.UsableBytes);
    }

    [Fact]
    public async Task CollectAsync_ThisMachine_StorageMatchesDf()
    {
        var facts = await new LinuxHardwareSource(_tools).CollectAsync(_dataDirectory, Timeouts.Token());
        var df = await _tools.RunAsync("df", ["-B1", "--output=size,avail", _dataDirectory], TimeSpan.FromSeconds(5), Timeouts.Token());

        Assert.Equal(ToolOutcome.Ok, df.Outcome);
        var figures = df.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(figures[0], facts.Storage.TotalBytes);

        // Other processes write while the test runs: free space agrees within 1% of the filesystem.
        Assert.InRange(facts.Storage.FreeBytes, figures[1] - (figures[0] / 100), figures[1] + (figures[0] / 100));
        Assert.NotNull(facts.Storage.Filesystem);
    }

    [Fact]
    public async Task CollectAsync_ThisMachine_GpusAreOnlyAdaptersThatExist()
    {
        var facts = await new LinuxHardwareSource(_tools).CollectAsync(_dataDirectory, Timeouts.Token());
        var drmCards = Directory.Exists("/sys/class/drm") ? Directory.GetDirectories("/sys/class/drm", "card*").Length : 0;
        var nvidia = ProcessToolRunner.FindOnPath("nvidia-smi") is not null;
        var lspci = ProcessToolRunner.FindOnPath("lspci") is not null;

        if (drmCards == 0 && !nvidia && !lspci)
        {
            Assert.Empty(facts.Gpus);
        }

        Assert.All(facts.Gpus, g => Assert.False(string.IsNullOrEmpty(g.Name)));
    }

    [GeneratedRegex(@"^MemTotal:\s+([0-9]+) kB", RegexOptions.Multiline)]
    private static partial Regex MemTotal();
}
