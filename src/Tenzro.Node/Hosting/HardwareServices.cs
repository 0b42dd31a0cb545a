using System.Globalization;
using Tenzro.Node.Cli;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Hardware.Benchmarks;

namespace Tenzro.Node.Hosting;

/// <summary>The hardware profiler: the profile, the start-up gate, the benchmarks and the refresh loop.</summary>
internal static class HardwareServices
{
    /// <summary>
    /// Registers the profiler. The start-up gate (<see cref="StartupGate"/>) makes it, which reads the hardware
    /// (external tools bounded by <see cref="LinuxHardwareSource.ToolTimeout"/>) and checks the minimum requirements
    /// and, with ENFORCE_TIER, the configured tier, before the node listens; a requirement not met throws
    /// <see cref="StartupRequirementException"/> there, one line per failed requirement.
    /// </summary>
    public static IServiceCollection AddHardwareProfiler(this IServiceCollection services, NodeSettings settings)
    {
        var source = new LinuxHardwareSource(new ProcessToolRunner());
        services.AddSingleton(_ => source.CollectAsync(settings.Storage.DataDirectory, CancellationToken.None).GetAwaiter().GetResult());
        services.AddSingleton(sp =>
        {
            var profiler = new HardwareProfiler(sp.GetRequiredService<HardwareFacts>(), settings.Node, settings.Network, TimeProvider.System, new Runtimes.Onnx.OnnxGpuComputeProbe());
            CheckStartupRequirements(settings, profiler.Current);
            return profiler;
        });
        services.AddSingleton(source);
        services.AddSingleton<IHardwareSource>(source);
        var direct = new LinuxDynamicHardwareReader(source, settings.Storage.DataDirectory);
        services.AddSingleton<IDynamicHardwareReader>(sp => new SamplerHardwareReader(sp.GetRequiredService<Core.Resources.ResourceSampler>(), direct));
        services.AddSingleton(new BenchmarkBudget());
        // The GPU matmul runs only where GPU work can run (an NVIDIA GPU and ONNX Runtime's CUDA provider).
        services.AddSingleton(sp => new BenchmarkSuite(
            sp.GetRequiredService<BenchmarkBudget>(),
            sp.GetRequiredService<HardwareProfiler>().Current.GpuCompute is { Available: true } ? new Runtimes.Onnx.GpuMatMulBenchmark(new Runtimes.Onnx.OnnxCapabilities()) : null));
        services.AddSingleton<BenchmarkStore>();
        services.AddSingleton<HardwareBenchmarks>();
        services.AddSingleton<BandwidthStore>();
        services.AddSingleton(sp => new BandwidthProbe(BandwidthProbe.CreateHttpClient(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(BandwidthLimits.Default);
        services.AddSingleton<BandwidthMonitor>();
        services.AddSingleton<Api.BandwidthProbeGate>();
        services.AddHostedService<HardwareStartupService>();
        services.AddHostedService<ProfileRefreshService>();
        return services;
    }

    /// <summary>Throws when the machine is below MIN_CPU_CORES, MIN_MEMORY_GB, MIN_STORAGE_GB or GPU_REQUIRED, or below an enforced NODE_TIER.</summary>
    public static void CheckStartupRequirements(NodeSettings settings, HardwareProfile profile)
    {
        var failures = HardwareRequirements.Check(settings.Hardware, profile).ToList();
        if (settings.Node.EnforceTier && profile.Tier.Shortfalls.Count > 0)
        {
            failures.Add(TierMessage(profile.Tier) + " ENFORCE_TIER=true: lower NODE_TIER or set ENFORCE_TIER=false.");
        }

        if (failures.Count > 0)
        {
            throw new StartupRequirementException(
                "This machine does not meet the node's requirements:" + Environment.NewLine + string.Join(Environment.NewLine, failures.Select(f => "  " + f)));
        }
    }

    /// <summary>"NODE_TIER=training is above the qualified tier aggregator: …" with every figure that falls short.</summary>
    public static string TierMessage(TierInfo tier) => string.Create(CultureInfo.InvariantCulture,
        $"NODE_TIER={tier.Configured} is above the tier this machine qualifies for ({tier.Qualified}); {tier.Configured} needs {TierRules.Requirement(tier.Configured)}, and this machine has {string.Join("; ", tier.Shortfalls)}.");
}
