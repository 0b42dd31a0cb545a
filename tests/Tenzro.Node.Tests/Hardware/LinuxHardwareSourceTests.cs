using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Hardware;

/// <summary>The whole Linux source over a fixture root: an x86 machine in a cgroup v2 container with an AMD card, two NVIDIA cards and a BMC adapter.</summary>
[Trait("Suite", "hardware")]
public sealed class LinuxHardwareSourceTests : IDisposable
{
    private const long KiB = 1024;
    private const long GiB = 1024L * 1024 * 1024;

    private readonly TempTree _tree = new TempTree()
        .CopyFixture("cgroup-v2")
        .CopyFixture("drm-amd")
        .Write("/proc/cpuinfo", FixtureFiles.Read("cpuinfo-x86.txt"))
        .Write("/proc/meminfo", FixtureFiles.Read("meminfo.txt"))
        .Write("/proc/self/status", "Name:\ttenzro-node\nCpus_allowed_list:\t0-3\n")
        .Write("/proc/sys/kernel/osrelease", "6.8.0-45-generic\n")
        .Write("/proc/sys/kernel/hostname", "gpu-box\n")
        .Write("/etc/os-release", "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\n")
        .Write("/etc/machine-id", "0123456789abcdef0123456789abcdef\n")
        .Write("/sys/devices/system/cpu/cpu0/cpufreq/base_frequency", "2200000\n")
        .Write("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "3200000\n")
        .Write("/sys/class/net/enp3s0/speed", "10000\n")
        .Write("/sys/class/net/enp3s0/operstate", "up\n")
        .CreateDirectory("/sys/class/net/enp3s0/device");

    private readonly string _dataDirectory = TestNode.NewDirectory();

    public void Dispose()
    {
        _tree.Dispose();
        Directory.Delete(_dataDirectory, recursive: true);
    }

    [Fact]
    public async Task CollectAsync_FixtureMachine_ReportsRawAndUsableFigures()
    {
        var source = new LinuxHardwareSource(FakeTools.Nvidia(), _tree.Root);

        var facts = await source.CollectAsync(_dataDirectory, Timeouts.Token());

        Assert.Equal(4, facts.Cpu.LogicalCores);
        Assert.Equal(2, facts.Cpu.PhysicalCores);
        Assert.Equal(2.0, facts.Cpu.UsableCores);
        Assert.Equal("Intel", facts.Cpu.Vendor);
        Assert.Equal(2200.0, facts.Cpu.BaseMhz);
        Assert.Equal(3200.0, facts.Cpu.MaxMhz);
        Assert.Contains("avx2", facts.Cpu.Features);
        Assert.Equal(16314628 * KiB, facts.Memory.TotalBytes);
        Assert.Equal(4 * GiB, facts.Memory.UsableBytes);
        Assert.Equal(3 * GiB, facts.Memory.AvailableBytes);
        Assert.Equal(2097148 * KiB, facts.Memory.SwapTotalBytes);
        Assert.Equal(
            [
                new AppliedLimit("cpu", "cgroup2 cpu.max", 2, "cores", "/sys/fs/cgroup/system.slice/tenzro.service/cpu.max"),
                new AppliedLimit("memory", "cgroup2 memory.max", 4 * GiB, "bytes", "/sys/fs/cgroup/system.slice/tenzro.service/memory.max"),
            ],
            facts.LimitsApplied);
        Assert.Equal(new OperatingSystemInfo("Ubuntu 24.04.1 LTS", "6.8.0-45-generic", System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription, "gpu-box"), facts.Os);
        Assert.Equal("0123456789abcdef0123456789abcdef", facts.MachineId);
        Assert.Equal(new NetworkInterfaceProfile("enp3s0", 10000, "up", false), Assert.Single(facts.Interfaces));
        Assert.Equal(Path.GetFullPath(_dataDirectory), facts.Storage.Path);
        Assert.True(facts.Storage.TotalBytes > 0);
        Assert.Empty(facts.Problems);
    }

    [Fact]
    public async Task CollectAsync_NvidiaDrmAndLspci_ListsEachAdapterOnce()
    {
        var source = new LinuxHardwareSource(FakeTools.Nvidia(), _tree.Root);

        var gpus = (await source.CollectAsync(_dataDirectory, Timeouts.Token())).Gpus;

        Assert.Equal(["NVIDIA GeForce RTX 4090", "NVIDIA A100-SXM4-80GB", "Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]", "ASPEED Graphics Family"], gpus.Select(g => g.Name));
        Assert.Equal(["nvidia-smi", "nvidia-smi", "drm", "lspci"], gpus.Select(g => g.Source));
        Assert.All(gpus.Take(2), g => Assert.Equal("12.4", g.CudaVersion));
        Assert.Equal([true, true, true, false], gpus.Select(g => g.Usable));
        Assert.Equal(17163091968, gpus[2].MemoryBytes);
    }

    [Fact]
    public async Task CollectAsync_ToolsMissingOrHung_ReportsNoToolGpusAndNamesTheProblem()
    {
        var tools = new FakeTools
        {
            ["nvidia-smi"] = new ToolResult(ToolOutcome.TimedOut, "", "nvidia-smi did not finish within 3 s and was stopped"),
        };
        var source = new LinuxHardwareSource(tools, _tree.Root);

        var facts = await source.CollectAsync(_dataDirectory, Timeouts.Token());

        var gpu = Assert.Single(facts.Gpus);
        Assert.Equal("AMD GPU [1002:73bf]", gpu.Name);
        Assert.Equal(["nvidia-smi did not finish within 3 s and was stopped"], facts.Problems);
    }

    [Fact]
    public async Task CollectAsync_EmptyRoot_FallsBackToTheRuntime()
    {
        using var empty = new TempTree();
        var source = new LinuxHardwareSource(new FakeTools(), empty.Root);

        var facts = await source.CollectAsync(_dataDirectory, Timeouts.Token());

        Assert.Equal(Environment.ProcessorCount, facts.Cpu.LogicalCores);
        Assert.True(facts.Memory.TotalBytes > 0);
        Assert.Empty(facts.Gpus);
        Assert.Empty(facts.LimitsApplied);
        Assert.Null(facts.MachineId);
        Assert.Equal(
            ["/proc/cpuinfo", "/proc/meminfo", "/proc/self/mountinfo", "/proc/self/cgroup", "/sys/class/net", "/sys/class/drm"],
            facts.NotDetected.Select(n => System.Text.RegularExpressions.Regex.Match(n, "\\((/[a-z/]+)").Groups[1].Value));
        Assert.Contains("the core count comes from the .NET runtime", facts.NotDetected[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task CollectAsync_FixtureMachine_SaysNothingIsMissing()
    {
        var source = new LinuxHardwareSource(FakeTools.Nvidia(), _tree.Root);

        var facts = await source.CollectAsync(_dataDirectory, Timeouts.Token());

        Assert.Empty(facts.NotDetected);
    }

    [Fact]
    public void ReadDynamic_FixtureMachine_AvailableMemoryIsWhatTheCgroupLeaves()
    {
        var reader = new LinuxDynamicHardwareReader(new LinuxHardwareSource(new FakeTools(), _tree.Root), _dataDirectory);
        _tree.Write("/sys/fs/cgroup/system.slice/tenzro.service/memory.current", "3758096384\n");

        var figures = reader.Read();

        Assert.Equal(GiB / 2, figures.AvailableMemoryBytes);
        Assert.True(figures.FreeStorageBytes > 0);
    }

    [Fact]
    public void ReadDynamic_ContainerResized_ReportsTheUsableCoresAndMemoryOfTheNewLimits()
    {
        var reader = new LinuxDynamicHardwareReader(new LinuxHardwareSource(new FakeTools(), _tree.Root), _dataDirectory);
        var before = reader.Read();
        _tree.Write("/sys/fs/cgroup/system.slice/tenzro.service/cpu.max", "150000 100000\n");
        _tree.Write("/sys/fs/cgroup/system.slice/tenzro.service/memory.max", "2147483648\n");

        var after = reader.Read();

        Assert.Equal((2.0, 4 * GiB), (before.UsableCores, before.UsableMemoryBytes));
        Assert.Equal((1.5, 2 * GiB), (after.UsableCores, after.UsableMemoryBytes));
    }
}

/// <summary>Canned tool answers; a tool without one is not installed.</summary>
internal sealed class FakeTools : Dictionary<string, ToolResult>, IToolRunner
{
    public FakeTools()
        : base(StringComparer.Ordinal)
    {
    }

    public List<string> Calls { get; } = [];

    /// <summary>nvidia-smi with the fixture's two cards (query and banner) and lspci with the fixture's devices.</summary>
    public static FakeTools Nvidia() => new()
    {
        ["nvidia-smi --query-gpu=name,memory.total,driver_version,pci.bus_id --format=csv,noheader,nounits"] =
            new ToolResult(ToolOutcome.Ok, "NVIDIA GeForce RTX 4090, 24564, 550.54.15, 00000000:01:00.0\nNVIDIA A100-SXM4-80GB, 81920, 550.54.15, 00000000:41:00.0\n"),
        ["nvidia-smi"] = new ToolResult(ToolOutcome.Ok, FixtureFiles.Read("nvidia-smi-banner.txt")),
        ["lspci -mm -D"] = new ToolResult(ToolOutcome.Ok, FixtureFiles.Read("lspci-mm.txt")),
    };

    public Task<ToolResult> RunAsync(string tool, IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var line = string.Join(' ', [tool, .. arguments]);
        lock (Calls)
        {
            Calls.Add(line);
        }

        return Task.FromResult(TryGetValue(line, out var result) ? result : ToolResult.NotInstalled(tool));
    }
}
