using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;

namespace Tenzro.Node.Hosting;

/// <summary>Refreshes the dynamic figures (available memory, free storage) every PROFILE_UPDATE_INTERVAL.</summary>
internal sealed partial class ProfileRefreshService(
    HardwareProfiler profiler,
    IDynamicHardwareReader reader,
    HardwareOptions options,
    TimeProvider time,
    ILogger<ProfileRefreshService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.ProfileUpdateInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    profiler.UpdateDynamic(reader.Read());
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
}
