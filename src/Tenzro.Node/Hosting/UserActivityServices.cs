using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Hosting;

/// <summary>Active and idle limits: the user activity reader and the monitor that switches the limits.</summary>
internal static class UserActivityServices
{
    /// <summary>
    /// Registers <see cref="IUserActivity"/> (logind, /proc/interrupts and /dev/input; a test may register another after
    /// this) and the <see cref="UserActivityMonitor"/>, which the engine's pause and the ledger's limit answer to.
    /// </summary>
    public static IServiceCollection AddUserActivity(this IServiceCollection services)
    {
        services.AddSingleton<IUserActivity>(sp => new LinuxUserActivity(new ProcessToolRunner(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IRunningTaskLimiter>(sp => sp.GetRequiredService<TaskEngine>());
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<ResourceOptions>();
            return new UserActivityMonitor(
                sp.GetRequiredService<IUserActivity>(),
                sp.GetRequiredService<IResourceLedger>(),
                sp.GetRequiredService<IntakeState>(),
                sp.GetRequiredService<IRunningTaskLimiter>(),
                options,
                sp.GetRequiredService<MonitoringOptions>(),
                SystemCapacity.ActiveCap(options, sp.GetService<HardwareProfiler>()?.Current),
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<UserActivityMonitor>>());
        });
        services.AddHostedService(sp => sp.GetRequiredService<UserActivityMonitor>());
        return services;
    }
}
