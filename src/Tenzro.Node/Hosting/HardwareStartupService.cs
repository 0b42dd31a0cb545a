using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Hardware.Benchmarks;

namespace Tenzro.Node.Hosting;

/// <summary>
/// Logs the profile and a tier warning at start, then, once the node is listening, publishes the cached
/// benchmark figures for this fingerprint or runs the benchmarks (BENCHMARK_ON_START), and after them runs
/// the bandwidth schedule (BANDWIDTH_TEST_URL), so that the two never measure at the same time. Readiness
/// never waits for either.
/// </summary>
internal sealed partial class HardwareStartupService(
    HardwareProfiler profiler,
    HardwareFacts facts,
    HardwareBenchmarks benchmarks,
    BandwidthMonitor bandwidth,
    HardwareOptions options,
    IHostApplicationLifetime lifetime,
    ILogger<HardwareStartupService> logger) : BackgroundService
{
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var profile = profiler.Current;
        LogProfile(logger, profile.Cpu.UsableCores, profile.Cpu.LogicalCores, profile.Memory.UsableBytes, profile.Storage.FreeBytes, profile.Gpus.Count, profile.Tier.Qualified, profile.Fingerprint);
        foreach (var problem in facts.Problems)
        {
            LogToolProblem(logger, problem);
        }

        foreach (var missing in facts.NotDetected)
        {
            LogNotDetected(logger, missing);
        }

        if (profile.Tier.Shortfalls.Count > 0)
        {
            LogTierAbove(logger, profile.Tier.Configured, profile.Tier.Qualified, TierRules.Requirement(profile.Tier.Configured), string.Join("; ", profile.Tier.Shortfalls));
        }

        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        benchmarks.Cancel();
        bandwidth.Cancel();
        await base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
            {
                await started.Task.WaitAsync(stoppingToken);
            }

            var profile = await benchmarks.LoadOrRunAsync(options.BenchmarkOnStart, stoppingToken);
            if (profile.BenchmarkRun.State is BenchmarkState.Measured or BenchmarkState.Cached)
            {
                LogBenchmarks(logger, profile.BenchmarkRun.State, profile.Benchmarks.Count);
            }

            await bandwidth.RunAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = LogEvents.HardwareProfiled, Level = LogLevel.Information,
        Message = "Hardware: {UsableCores} usable cores of {LogicalCores}, {UsableMemoryBytes} bytes usable memory, {FreeStorageBytes} bytes free storage, {GpuCount} GPU(s); qualifies for {QualifiedTier}; fingerprint {Fingerprint}")]
    private static partial void LogProfile(ILogger logger, double usableCores, int logicalCores, long usableMemoryBytes, long freeStorageBytes, int gpuCount, string qualifiedTier, string fingerprint);

    [LoggerMessage(EventId = LogEvents.HardwareToolProblem, Level = LogLevel.Warning, Message = "Hardware profiling: {Problem}")]
    private static partial void LogToolProblem(ILogger logger, string problem);

    [LoggerMessage(EventId = LogEvents.HardwareNotDetected, Level = LogLevel.Warning, Message = "Hardware profiling: not detected on this machine: {What}")]
    private static partial void LogNotDetected(ILogger logger, string what);

    [LoggerMessage(EventId = LogEvents.TierAboveQualified, Level = LogLevel.Warning,
        Message = "NODE_TIER {ConfiguredTier} is above the tier this machine qualifies for ({QualifiedTier}): it needs {Requirement}, and this machine has {Shortfalls}. The node starts anyway because ENFORCE_TIER is false")]
    private static partial void LogTierAbove(ILogger logger, string configuredTier, string qualifiedTier, string requirement, string shortfalls);

    [LoggerMessage(EventId = LogEvents.BenchmarksReady, Level = LogLevel.Information, Message = "Hardware benchmarks {State}: {Count} figures")]
    private static partial void LogBenchmarks(ILogger logger, string state, int count);
}
