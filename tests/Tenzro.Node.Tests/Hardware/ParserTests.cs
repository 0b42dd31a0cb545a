using Tenzro.Node.Core.Hardware;

namespace Tenzro.Node.Tests.Hardware;

[Trait("Suite", "hardware")]
public sealed class ParserTests
{
    private const long KiB = 1024;
    private const long GiB = 1024L * 1024 * 1024;

    [Fact]
    public void CpuInfoParser_X86WithAvx2_ReportsVendorModelCoresAndFeatures()
    {
        var info = CpuInfoParser.Parse(FixtureFiles.Read("cpuinfo-x86.txt"));

        Assert.Equal("Intel", info.Vendor);
        Assert.Equal("Intel(R) Xeon(R) Silver 4214 CPU @ 2.20GHz", info.Model);
        Assert.Equal(4, info.Processors);
        Assert.Equal(2, info.PhysicalCores);
        Assert.Equal(2200.0, info.CurrentMhz);
        Assert.Contains("avx2", info.Features);
        Assert.Contains("sse4_2", info.Features);
        Assert.Contains("sse3", info.Features);
        Assert.Contains("fma", info.Features);
        Assert.DoesNotContain("avx512f", info.Features);
        Assert.DoesNotContain("neon", info.Features);
    }

    [Fact]
    public void CpuInfoParser_Arm64_MapsAsimdToNeonAndNamesThePart()
    {
        var info = CpuInfoParser.Parse(FixtureFiles.Read("cpuinfo-arm64.txt"));

        Assert.Equal("ARM", info.Vendor);
        Assert.Equal("Neoverse-N1", info.Model);
        Assert.Equal(4, info.Processors);
        Assert.Null(info.PhysicalCores);
        Assert.Null(info.CurrentMhz);
        Assert.Contains("neon", info.Features);
        Assert.Contains("asimddp", info.Features);
        Assert.Contains("crc32", info.Features);
        Assert.DoesNotContain("avx2", info.Features);
    }

    [Fact]
    public void CpuInfoParser_Empty_ReportsNothing()
    {
        var info = CpuInfoParser.Parse("");

        Assert.Equal(0, info.Processors);
        Assert.Null(info.Model);
        Assert.Empty(info.Features);
    }

    [Theory]
    [InlineData("0-3", 4)]
    [InlineData("0", 1)]
    [InlineData("0-3,8,10-11\n", 7)]
    [InlineData("", 0)]
    [InlineData("3-1", 0)]
    [InlineData("x", 0)]
    public void CountCpuList_KernelList_CountsCpus(string list, int expected) =>
        Assert.Equal(expected, CpuInfoParser.CountCpuList(list));

    [Fact]
    public void AllowedCpus_ProcSelfStatus_CountsAffinityList()
    {
        var status = "Name:\tdotnet\nCpus_allowed:\tff\nCpus_allowed_list:\t0-5,7\nMems_allowed_list:\t0\n";

        Assert.Equal(7, LinuxHardwareSource.AllowedCpus(status));
    }

    [Fact]
    public void MemInfoParser_Fixture_ConvertsKibibytesToBytes()
    {
        var info = MemInfoParser.Parse(FixtureFiles.Read("meminfo.txt"));

        Assert.Equal(16314628 * KiB, info.TotalBytes);
        Assert.Equal(13126484 * KiB, info.AvailableBytes);
        Assert.Equal(2097148 * KiB, info.SwapTotalBytes);
        Assert.Equal(2000000 * KiB, info.SwapFreeBytes);
    }

    [Fact]
    public void MemInfoParser_OldKernelWithoutMemAvailable_AddsFreeBuffersAndCached()
    {
        var info = MemInfoParser.Parse("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 30 kB\n");

        Assert.Equal(150 * KiB, info.AvailableBytes);
    }

    [Fact]
    public void MemInfoParser_NoMemTotal_Throws() =>
        Assert.Throws<FormatException>(() => MemInfoParser.Parse("MemFree: 1 kB\n"));

    [Theory]
    [InlineData("max 100000", null)]
    [InlineData("200000 100000", 2.0)]
    [InlineData("50000 100000\n", 0.5)]
    [InlineData("150000", 1.5)]
    [InlineData("", null)]
    public void ParseCpuMax_CgroupV2Line_GivesCores(string text, double? expected) =>
        Assert.Equal(expected, CgroupLimits.ParseCpuMax(text));

    [Fact]
    public void CgroupLimits_V2Tree_LowersCpuToQuotaAndMemoryToMax()
    {
        var limits = CgroupLimits.Read(FixtureFiles.PathOf("cgroup-v2"));

        Assert.Equal(2.0, limits.Cpu!.Value);
        Assert.Equal("cgroup2 cpu.max", limits.Cpu.Mechanism);
        Assert.Equal("/sys/fs/cgroup/system.slice/tenzro.service/cpu.max", limits.Cpu.File);
        Assert.Equal(4 * GiB, limits.Memory!.Value);
        Assert.Equal("cgroup2 memory.max", limits.Memory.Mechanism);
        Assert.Equal(1 * GiB, limits.MemoryUsageBytes);
    }

    [Fact]
    public void CgroupLimits_V1Tree_ReadsCfsQuotaAndLimitInBytes()
    {
        var limits = CgroupLimits.Read(FixtureFiles.PathOf("cgroup-v1"));

        Assert.Equal(1.5, limits.Cpu!.Value);
        Assert.Equal("cgroup1 cpu.cfs_quota_us", limits.Cpu.Mechanism);
        Assert.Equal("/sys/fs/cgroup/cpu/docker/4f2a/cpu.cfs_quota_us", limits.Cpu.File);
        Assert.Equal(1 * GiB, limits.Memory!.Value);
        Assert.Equal("cgroup1 memory.limit_in_bytes", limits.Memory.Mechanism);
        Assert.Equal(256L * 1024 * 1024, limits.MemoryUsageBytes);
    }

    [Fact]
    public void CgroupLimits_V2ParentLowerThanChild_ParentWins()
    {
        using var tree = new TempTree().CopyFixture("cgroup-v2")
            .Write("/sys/fs/cgroup/system.slice/memory.max", "1073741824\n")
            .Write("/sys/fs/cgroup/system.slice/cpu.max", "50000 100000\n");

        var limits = CgroupLimits.Read(tree.Root);

        Assert.Equal(1 * GiB, limits.Memory!.Value);
        Assert.Equal("/sys/fs/cgroup/system.slice/memory.max", limits.Memory.File);
        Assert.Equal(0.5, limits.Cpu!.Value);
    }

    [Fact]
    public void CgroupLimits_V1MountRootIsTheContainerCgroup_ReadsTheMountPoint()
    {
        // Docker bind-mounts the container's own cgroup at /sys/fs/cgroup/memory; mountinfo's root field says so.
        using var tree = new TempTree()
            .Write("/proc/self/cgroup", "9:memory:/docker/abc\n")
            .Write("/proc/self/mountinfo", "613 610 0:34 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n")
            .Write("/sys/fs/cgroup/memory/memory.limit_in_bytes", "536870912\n");

        var limits = CgroupLimits.Read(tree.Root);

        Assert.Equal(512L * 1024 * 1024, limits.Memory!.Value);
        Assert.Null(limits.Cpu);
    }

    [Fact]
    public void CgroupLimits_UnlimitedV1_ReportsNoLimit()
    {
        using var tree = new TempTree().CopyFixture("cgroup-v1")
            .Write("/sys/fs/cgroup/memory/docker/4f2a/memory.limit_in_bytes", "9223372036854771712\n")
            .Write("/sys/fs/cgroup/cpu/docker/4f2a/cpu.cfs_quota_us", "-1\n");

        var limits = CgroupLimits.Read(tree.Root);

        Assert.Null(limits.Memory);
        Assert.Null(limits.Cpu);
    }

    [Fact]
    public void CgroupLimits_NoCgroupFiles_ReportsNoLimits()
    {
        using var tree = new TempTree();

        Assert.Equal(CgroupLimits.None, CgroupLimits.Read(tree.Root));
    }

    [Fact]
    public void NvidiaSmiParser_QueryCsv_ParsesNameMemoryAndDriver()
    {
        var gpus = NvidiaSmiParser.ParseQuery(FixtureFiles.Read("nvidia-smi-query.csv"), "12.4");

        Assert.Equal(2, gpus.Count);
        Assert.Equal("NVIDIA GeForce RTX 4090", gpus[0].Name);
        Assert.Equal(24564L * 1024 * 1024, gpus[0].MemoryBytes);
        Assert.Equal("550.54.15", gpus[0].DriverVersion);
        Assert.Equal("12.4", gpus[0].CudaVersion);
        Assert.Equal("NVIDIA", gpus[0].Vendor);
        Assert.True(gpus[0].Usable);
        Assert.Equal("NVIDIA A100-SXM4-80GB", gpus[1].Name);
        Assert.Equal(80 * GiB, gpus[1].MemoryBytes);
    }

    [Fact]
    public void NvidiaSmiParser_BusIdAndUnavailableMemory_NormalizesAndNulls()
    {
        var gpus = NvidiaSmiParser.ParseQuery("NVIDIA Jetson, Orin, [N/A], 36.2.0, 00000000:01:00.0\n");

        var gpu = Assert.Single(gpus);
        Assert.Equal("NVIDIA Jetson, Orin", gpu.Name);
        Assert.Null(gpu.MemoryBytes);
        Assert.Equal("0000:01:00.0", gpu.BusId);
    }

    [Fact]
    public void NvidiaSmiParser_Banner_ReadsCudaVersion()
    {
        Assert.Equal("12.4", NvidiaSmiParser.ParseCudaVersion(FixtureFiles.Read("nvidia-smi-banner.txt")));
        Assert.Null(NvidiaSmiParser.ParseCudaVersion("No devices were found"));
    }

    [Fact]
    public void LspciParser_Fixture_FindsDisplayAdapters()
    {
        var devices = LspciParser.Parse(FixtureFiles.Read("lspci-mm.txt"));
        var adapters = LspciParser.DisplayAdapters(devices).ToList();

        Assert.Equal(5, devices.Count);
        Assert.Equal(2, adapters.Count);
        Assert.Equal(new PciDevice("0000:02:00.0", "VGA compatible controller", "ASPEED Technology, Inc.", "ASPEED Graphics Family"), adapters[0]);
        Assert.Equal("Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]", adapters[1].Device);
    }

    [Fact]
    public void DrmGpus_AmdCard_ReportsVramDriverAndSlotAndSkipsOtherEntries()
    {
        var gpus = DrmGpus.Read(FixtureFiles.PathOf("drm-amd"));

        var gpu = Assert.Single(gpus);
        Assert.Equal("AMD", gpu.Vendor);
        Assert.Equal("AMD GPU [1002:73bf]", gpu.Name);
        Assert.Equal(17163091968, gpu.MemoryBytes);
        Assert.Equal("amdgpu", gpu.Driver);
        Assert.Equal("0000:03:00.0", gpu.BusId);
        Assert.Equal("drm", gpu.Source);
        Assert.True(gpu.Usable);
    }

    [Fact]
    public void DrmGpus_WithLspciNames_NamesTheCard()
    {
        var names = LspciParser.Parse(FixtureFiles.Read("lspci-mm.txt")).ToDictionary(d => d.Slot, d => d.Device);

        var gpu = Assert.Single(DrmGpus.Read(FixtureFiles.PathOf("drm-amd"), names));

        Assert.Equal("Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]", gpu.Name);
    }

    [Fact]
    public void DrmGpus_IntelCard_IsReportedWithoutDedicatedMemory()
    {
        using var tree = new TempTree()
            .Write("/sys/class/drm/card0/device/vendor", "0x8086\n")
            .Write("/sys/class/drm/card0/device/device", "0x9a49\n")
            .Write("/sys/class/drm/card0/device/uevent", "DRIVER=i915\nPCI_SLOT_NAME=0000:00:02.0\n");

        var gpu = Assert.Single(DrmGpus.Read(tree.Root));

        Assert.Equal("Intel", gpu.Vendor);
        Assert.Null(gpu.MemoryBytes);
        Assert.Equal("i915", gpu.Driver);
    }

    [Theory]
    [InlineData("00000000:01:00.0", "0000:01:00.0")]
    [InlineData("0000:3B:00.1", "0000:3b:00.1")]
    [InlineData("03:00.0", "0000:03:00.0")]
    public void PciAddress_ToolSpellings_NormalizeToOne(string text, string expected)
    {
        Assert.True(PciAddress.TryNormalize(text, out var address));
        Assert.Equal(expected, address);
    }

    [Fact]
    public void MountInfo_EscapedMountPoint_IsUnescapedAndLongestPrefixWins()
    {
        var mounts = MountInfo.Parse("""
            22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
            40 22 8:17 / /mnt/big\040disk rw,relatime shared:5 - xfs /dev/sdb1 rw
            41 22 0:45 / /mnt/big\040disk/tmp rw - tmpfs tmpfs rw,size=1024k
            """);

        Assert.Equal(3, mounts.Count);
        Assert.Equal("/mnt/big disk", mounts[1].MountPoint);
        Assert.Equal("xfs", MountInfo.Find(mounts, "/mnt/big disk/data")!.FilesystemType);
        Assert.Equal("tmpfs", MountInfo.Find(mounts, "/mnt/big disk/tmp/x")!.FilesystemType);
        Assert.Equal("ext4", MountInfo.Find(mounts, "/mnt/big diskette")!.FilesystemType);
        Assert.Equal((8, 17), (mounts[1].Major, mounts[1].Minor));
    }

    [Fact]
    public void StorageProbe_PartitionOfNvmeDisk_ReportsDiskAndRotational()
    {
        using var tree = new TempTree()
            .Write("/proc/self/mountinfo", "22 1 259:2 / / rw - ext4 /dev/nvme0n1p2 rw\n30 22 8:1 / /srv rw - xfs /dev/sda1 rw\n")
            .Write("/sys/devices/pci0000:00/nvme/nvme0/nvme0n1/queue/rotational", "0\n")
            .Write("/sys/devices/pci0000:00/nvme/nvme0/nvme0n1/nvme0n1p2/partition", "2\n")
            .Link("/sys/dev/block/259:2", "../../devices/pci0000:00/nvme/nvme0/nvme0n1/nvme0n1p2")
            .Write("/sys/devices/pci0000:00/ata1/sda/queue/rotational", "1\n")
            .Write("/sys/devices/pci0000:00/ata1/sda/sda1/partition", "1\n")
            .Link("/sys/dev/block/8:1", "../../devices/pci0000:00/ata1/sda/sda1");

        var root = StorageProbe.Describe(tree.Root, "/var/lib/tenzro/data");
        var srv = StorageProbe.Describe(tree.Root, "/srv/tenzro");

        Assert.Equal(("/", "ext4", "nvme0n1", false), (root.MountPoint, root.Filesystem, root.Device, root.Rotational));
        Assert.Equal(("/srv", "xfs", "sda", true), (srv.MountPoint, srv.Filesystem, srv.Device, srv.Rotational));
    }

    [Fact]
    public void StorageProbe_FilesystemWithoutBlockDevice_ReportsNoDevice()
    {
        using var tree = new TempTree().Write("/proc/self/mountinfo", "22 1 0:31 / / rw - overlay overlay rw\n");

        var described = StorageProbe.Describe(tree.Root, "/data");

        Assert.Equal(("/", "overlay", null, null), (described.MountPoint, described.Filesystem, described.Device, described.Rotational));
    }

    [Fact]
    public void NetworkInterfaces_SysClassNet_ListsAllButLoopbackWithSpeeds()
    {
        using var tree = new TempTree()
            .Write("/sys/class/net/lo/operstate", "unknown\n")
            .Write("/sys/class/net/eth0/speed", "1000\n")
            .Write("/sys/class/net/eth0/operstate", "up\n")
            .CreateDirectory("/sys/class/net/eth0/device")
            .Write("/sys/class/net/eth1/speed", "-1\n")
            .Write("/sys/class/net/eth1/operstate", "down\n")
            .CreateDirectory("/sys/class/net/eth1/device")
            .Write("/sys/class/net/docker0/operstate", "up\n");

        var interfaces = NetworkInterfaces.Read(tree.Root);

        Assert.Equal(
            [new("docker0", null, "up", true), new("eth0", 1000, "up", false), new NetworkInterfaceProfile("eth1", null, "down", false)],
            interfaces);
        var measured = new BandwidthMeasurement { Target = "http://peer/", State = BandwidthState.Measured, DownloadMbps = 480, UploadMbps = 95.5 };
        var downloadOnly = measured with { UploadMbps = null };
        var failedFirst = new BandwidthMeasurement { Target = "http://peer/", State = BandwidthState.Failed, Error = "unreachable" };
        Assert.Equal((1000.0, "linkSpeed"), NetworkInterfaces.Bandwidth(null, null, interfaces));
        Assert.Equal((250.0, "configured"), NetworkInterfaces.Bandwidth(250, measured, interfaces));
        Assert.Equal((95.5, "measured"), NetworkInterfaces.Bandwidth(null, measured, interfaces));
        Assert.Equal((480.0, "measured"), NetworkInterfaces.Bandwidth(null, downloadOnly, interfaces));
        Assert.Equal((1000.0, "linkSpeed"), NetworkInterfaces.Bandwidth(null, failedFirst, interfaces));
        Assert.Equal((null, null), NetworkInterfaces.Bandwidth(null, null, []));
    }

    [Fact]
    public void OsReleaseName_PrettyNameOrNameAndVersion()
    {
        Assert.Equal("Debian GNU/Linux 12 (bookworm)", LinuxHardwareSource.OsReleaseName("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"));
        Assert.Equal("Alpine Linux 3.20", LinuxHardwareSource.OsReleaseName("NAME=\"Alpine Linux\"\nVERSION=3.20\n"));
        Assert.Null(LinuxHardwareSource.OsReleaseName("# nothing\n"));
    }
}
