using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;

namespace Tenzro.Node.Tests.Optimization;

/// <summary>Hardware profiles of machines made up in the test: a small one, a large one with and without a GPU, one under a cgroup limit.</summary>
internal static class MachineProfiles
{
    public const long GiB = 1024L * 1024 * 1024;

    public static HardwareProfile TwoCores() => Make(logical: 2, usable: 2, memoryBytes: 8 * GiB);

    public static HardwareProfile SixtyFourCores(bool gpu) => Make(logical: 64, usable: 64, memoryBytes: 256 * GiB, gpuMemoryBytes: gpu ? 24 * GiB : 0);

    /// <summary>A 16-core machine whose container may use 1.5 cores and 1 GB (cgroup v2 cpu.max and memory.max).</summary>
    public static HardwareProfile CgroupLimited() => Make(
        logical: 16,
        usable: 1.5,
        memoryBytes: GiB,
        limits:
        [
            new AppliedLimit("cpu", "cgroup2 cpu.max", 1.5, "cores", "/sys/fs/cgroup/cpu.max"),
            new AppliedLimit("memory", "cgroup2 memory.max", GiB, "bytes", "/sys/fs/cgroup/memory.max"),
        ]);

    /// <summary>A profiler of the two-core machine whose benchmarks measured <paramref name="integerOpsPerSecond"/> a core (and as many float ops).</summary>
    public static HardwareProfiler BenchmarkedProfiler(double integerOpsPerSecond)
    {
        var profiler = Profiler(logical: 2, usable: 2, memoryBytes: 8 * GiB);
        profiler.PublishBenchmarks(
            new BenchmarkResult(
                new Dictionary<string, BenchmarkFigure>
                {
                    ["cpuIntegerSingleCore"] = new(integerOpsPerSecond, "ops/s"),
                    ["cpuIntegerAllCores"] = new(integerOpsPerSecond * 2, "ops/s"),
                    ["cpuFloatSingleCore"] = new(integerOpsPerSecond, "ops/s"),
                },
                DateTimeOffset.UnixEpoch),
            cached: false);
        return profiler;
    }

    public static HardwareProfile Make(int logical, double usable, long memoryBytes, long gpuMemoryBytes = 0, IReadOnlyList<AppliedLimit>? limits = null) =>
        Profiler(logical, usable, memoryBytes, gpuMemoryBytes, limits).Current;

    private static HardwareProfiler Profiler(int logical, double usable, long memoryBytes, long gpuMemoryBytes = 0, IReadOnlyList<AppliedLimit>? limits = null)
    {
        var facts = new HardwareFacts(
            new OperatingSystemInfo("Test OS", "6.0", ".NET", "host"),
            new CpuProfile { Model = "Test CPU", Architecture = "x86_64", LogicalCores = logical, UsableCores = usable, Features = ["avx2"] },
            new MemoryProfile { TotalBytes = Math.Max(memoryBytes, 64 * GiB), UsableBytes = memoryBytes, AvailableBytes = memoryBytes / 2 },
            new StorageProfile { Path = "/data", TotalBytes = 100 * GiB, FreeBytes = 40 * GiB },
            gpuMemoryBytes > 0 ? [new GpuProfile { Vendor = "NVIDIA", Name = "Test GPU", MemoryBytes = gpuMemoryBytes, Source = "nvidia-smi", Usable = true }] : [],
            [],
            limits ?? [],
            "machine",
            []);
        return new HardwareProfiler(facts, new NodeOptions(), new NetworkOptions(), TimeProvider.System, new WorkingGpuProbe());
    }

    /// <summary>Stands in for ONNX Runtime's CUDA probe, which needs a real GPU: every NVIDIA GPU works.</summary>
    private sealed class WorkingGpuProbe : IGpuComputeProbe
    {
        public GpuComputeInfo Probe(IReadOnlyList<GpuProfile> gpus) => gpus.Count == 0
            ? GpuComputeInfo.None("no GPU detected")
            : new GpuComputeInfo(true, "onnxruntime", ["CUDAExecutionProvider", "CPUExecutionProvider"], null);
    }
}
