using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Hosting;

/// <summary>
/// Refreshes the dynamic figures (available memory, free storage, and the usable cores and memory a container's
/// limits give) every PROFILE_UPDATE_INTERVAL; when the usable cores or memory changed, what the network may reserve
/// follows, and with it the run slots of MAX_CONCURRENT_TASKS=auto.
/// </summary>
internal sealed partial class ProfileRefreshService(
    HardwareProfiler profiler,
    IDynamicHardwareReader reader,
    HardwareOptions options,
    ResourceOptions resources,
    StorageOptions storage,
    IServiceProvider services,
    TimeProvider time,
    ILogger<ProfileRefreshService> logger) : BackgroundService
{
    /// <summary>One refresh: the profile's dynamic figures, then the ledger's maximum where the usable cores or memory changed.</summary>
    public void Refresh()
    {
        var before = profiler.Current;
        var after = profiler.UpdateDynamic(reader.Read());
        if (services.GetService<IResourceLedger>() is { } ledger
            && SystemCapacity.Follow(ledger, resources, storage, before, after) is { } maximum)
        {
            LogCapacityChanged(logger, before.Cpu.UsableCores, after.Cpu.UsableCores, before.Memory.UsableBytes / (1024 * 1024), after.Memory.UsableBytes / (1024 * 1024), maximum.Cpu, maximum.MemoryMB);
            services.GetService<TaskEngine>()?.Pump();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.ProfileUpdateInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    Refresh();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogRefreshFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = LogEvents.ProfileRefreshFailed, Level = LogLevel.Warning, Message = "Refreshing the hardware profile failed; retrying at the next interval")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = LogEvents.UsableCapacityChanged, Level = LogLevel.Warning, Message = "The usable cores or memory changed ({CoresBefore} → {CoresAfter} cores, {MemoryBeforeMB} → {MemoryAfterMB} MB): the network may now reserve {Cores} cores and {MemoryMB} MB, and MAX_CONCURRENT_TASKS=auto follows")]
    private static partial void LogCapacityChanged(ILogger logger, double coresBefore, double coresAfter, long memoryBeforeMB, long memoryAfterMB, double cores, long memoryMB);
}
