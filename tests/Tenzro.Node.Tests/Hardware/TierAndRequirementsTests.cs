using Tenzro.Node.Cli;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Hosting;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Hardware;

[Trait("Suite", "hardware")]
public sealed class TierAndRequirementsTests
{
    private const long GiB = 1024L * 1024 * 1024;

    [Theory]
    [InlineData(2, 4, 0, "inference")]
    [InlineData(4, 8, 0, "aggregator")]
    [InlineData(3.5, 64, 0, "inference")]
    [InlineData(16, 64, 0, "training")]
    [InlineData(2, 4, 8, "training")]
    [InlineData(2, 4, 6, "inference")]
    public void Qualify_Figures_FollowTheContract(double cores, long memoryGiB, long gpuGiB, string expected) =>
        Assert.Equal(expected, TierRules.Qualify(cores, memoryGiB * GiB, gpuGiB * GiB));

    [Fact]
    public void Shortfalls_AggregatorOnSmallMachine_NamesCoresAndMemory()
    {
        var shortfalls = TierRules.Shortfalls("aggregator", 2, 4 * GiB, 0);

        Assert.Equal(["2 usable cores (aggregator needs 4)", "4 GB usable memory (aggregator needs 8 GB)"], shortfalls);
    }

    [Fact]
    public void Shortfalls_TrainingWithManyCoresButLittleMemory_NamesGpuAndMemoryOnly()
    {
        var shortfalls = TierRules.Shortfalls("training", 32, 32 * GiB, 4 * GiB);

        Assert.Equal(["largest usable GPU has 4 GB (training needs 8 GB)", "32 GB usable memory (training needs 64 GB)"], shortfalls);
    }

    [Theory]
    [InlineData("inference")]
    [InlineData("feedback")]
    public void Shortfalls_TierNotMeasured_OrMet_IsEmpty(string tier) =>
        Assert.Empty(TierRules.Shortfalls(tier, 1, GiB, 0));

    [Fact]
    public void Check_EveryMinimumFailing_OneLinePerRequirement()
    {
        var profile = Profile(cores: 1.5, memoryBytes: 2 * GiB, freeStorageBytes: 10 * GiB);
        var options = new HardwareOptions { MinCpuCores = 2, MinMemoryGb = 4, MinStorageGb = 20, GpuRequired = true };

        var failures = HardwareRequirements.Check(options, profile);

        Assert.Equal(4, failures.Count);
        Assert.StartsWith("MIN_CPU_CORES=2 needs 2 usable CPU cores; this machine has 1.5 (4 logical, limited by cgroup2 cpu.max)", failures[0]);
        Assert.StartsWith("MIN_MEMORY_GB=4 needs 4 GB of usable memory; this machine has 2 GB", failures[1]);
        Assert.StartsWith("MIN_STORAGE_GB=20 needs 20 GB free under DATA_DIR (/data); it has 10 GB free", failures[2]);
        Assert.StartsWith("GPU_REQUIRED=true needs a GPU", failures[3]);
    }

    [Fact]
    public void Check_MinimumsMet_IsEmpty()
    {
        var profile = Profile(cores: 4, memoryBytes: 8 * GiB, freeStorageBytes: 40 * GiB, gpuMemoryBytes: 8 * GiB);

        Assert.Empty(HardwareRequirements.Check(new HardwareOptions { GpuRequired = true }, profile));
    }

    [Fact]
    public void CheckStartupRequirements_EnforcedTierAboveQualified_ThrowsNamingTheShortfalls()
    {
        var settings = TestNode.Settings("/tmp/unused", new Dictionary<string, string?> { ["NODE_TIER"] = "aggregator", ["ENFORCE_TIER"] = "true" });
        var profile = Profile(cores: 2, memoryBytes: 16 * GiB, freeStorageBytes: 40 * GiB, tier: "aggregator");

        var error = Assert.Throws<StartupRequirementException>(() => HardwareServices.CheckStartupRequirements(settings, profile));

        Assert.Contains("NODE_TIER=aggregator is above the tier this machine qualifies for (inference)", error.Message);
        Assert.Contains("2 usable cores (aggregator needs 4)", error.Message);
        Assert.Contains("ENFORCE_TIER=true", error.Message);
    }

    [Fact]
    public void CheckStartupRequirements_TierAboveQualifiedNotEnforced_DoesNotThrow()
    {
        var settings = TestNode.Settings("/tmp/unused", new Dictionary<string, string?> { ["NODE_TIER"] = "aggregator" });
        var profile = Profile(cores: 2, memoryBytes: 16 * GiB, freeStorageBytes: 40 * GiB, tier: "aggregator");

        HardwareServices.CheckStartupRequirements(settings, profile);
        Assert.NotEmpty(profile.Tier.Shortfalls);
    }

    [Fact]
    public void Fingerprint_SameParts_SameHashAndAnyPartChangesIt()
    {
        var facts = Facts(4, 8 * GiB, 0);

        var fingerprint = HardwareFingerprint.Compute(facts);

        Assert.Matches("^[0-9a-f]{64}$", fingerprint);
        Assert.Equal(fingerprint, HardwareFingerprint.Compute(facts with { Memory = facts.Memory with { TotalBytes = facts.Memory.TotalBytes + (4 * 1024 * 1024), AvailableBytes = 1 } }));
        Assert.NotEqual(fingerprint, HardwareFingerprint.Compute(facts with { Cpu = facts.Cpu with { LogicalCores = 8 } }));
        Assert.NotEqual(fingerprint, HardwareFingerprint.Compute(facts with { MachineId = "other" }));
        Assert.NotEqual(fingerprint, HardwareFingerprint.Compute(Facts(4, 8 * GiB, 8 * GiB)));
        Assert.NotEqual(fingerprint, HardwareFingerprint.Compute(facts with { Memory = facts.Memory with { TotalBytes = 16 * GiB } }));
    }

    internal static HardwareFacts Facts(double cores, long memoryBytes, long gpuMemoryBytes, long freeStorageBytes = 40L * 1024 * 1024 * 1024) => new(
        new OperatingSystemInfo("Test OS", "6.0", ".NET", "host"),
        new CpuProfile { Model = "Test CPU", Architecture = "x86_64", LogicalCores = 4, UsableCores = cores, Features = ["avx2"] },
        new MemoryProfile { TotalBytes = 64 * GiB, UsableBytes = memoryBytes, AvailableBytes = memoryBytes / 2 },
        new StorageProfile { Path = "/data", TotalBytes = 100 * GiB, FreeBytes = freeStorageBytes },
        gpuMemoryBytes > 0 ? [new GpuProfile { Vendor = "NVIDIA", Name = "Test GPU", MemoryBytes = gpuMemoryBytes, Source = "nvidia-smi", Usable = true }] : [],
        [],
        cores < 4 ? [new AppliedLimit("cpu", "cgroup2 cpu.max", cores, "cores", "/sys/fs/cgroup/cpu.max")] : [],
        "machine",
        []);

    private static HardwareProfile Profile(double cores, long memoryBytes, long freeStorageBytes, long gpuMemoryBytes = 0, string tier = "inference", bool gpuRuntimeLoads = true) =>
        new HardwareProfiler(
            Facts(cores, memoryBytes, gpuMemoryBytes, freeStorageBytes),
            new NodeOptions { NodeTier = tier },
            new NetworkOptions(),
            TimeProvider.System,
            new FixedGpuProbe(gpuRuntimeLoads)).Current;

    /// <summary>Stands in for ONNX Runtime's CUDA probe, which needs a real GPU.</summary>
    private sealed class FixedGpuProbe(bool loads) : IGpuComputeProbe
    {
        public GpuComputeInfo Probe(IReadOnlyList<GpuProfile> gpus) =>
            loads ? new GpuComputeInfo(true, "onnxruntime", ["CUDAExecutionProvider", "CPUExecutionProvider"], null)
                  : new GpuComputeInfo(false, "onnxruntime", ["CPUExecutionProvider"], "CUDA execution provider unavailable: libcublasLt.so.13 not found");
    }

    [Fact]
    public void Check_GpuPresentButRuntimeCannotUseIt_FailsGpuRequiredWithTheReasonAndDoesNotQualifyForTraining()
    {
        var profile = Profile(cores: 4, memoryBytes: 16 * GiB, freeStorageBytes: 40 * GiB, gpuMemoryBytes: 24 * GiB, gpuRuntimeLoads: false);

        var failures = HardwareRequirements.Check(new HardwareOptions { GpuRequired = true }, profile);

        Assert.Contains(failures, f => f.Contains("GPU_REQUIRED", StringComparison.Ordinal) && f.Contains("libcublasLt", StringComparison.Ordinal));
        Assert.Equal("aggregator", profile.Tier.Qualified);
        Assert.Empty(profile.ComputeGpus());
    }

    [Fact]
    public void Qualify_UsableGpuWithEightGigabytes_IsTraining()
    {
        var profile = Profile(cores: 2, memoryBytes: 8 * GiB, freeStorageBytes: 40 * GiB, gpuMemoryBytes: 8 * GiB);

        Assert.Equal("training", profile.Tier.Qualified);
        Assert.Single(profile.ComputeGpus());
    }
}
