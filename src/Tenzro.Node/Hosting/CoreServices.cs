using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Core.Tasks.Builtin;

namespace Tenzro.Node.Hosting;

/// <summary>DI registration of the node's components, one extension per component.</summary>
internal static class CoreServices
{
    /// <summary>
    /// Settings, clock, identity and store. Only registered here: identity and store are opened by the start-up gate
    /// (<see cref="StartupGate"/>), so that a bad key file or a database from a newer version stops start-up before
    /// the node listens.
    /// </summary>
    public static IServiceCollection AddNodeCore(this IServiceCollection services, NodeSettings settings)
    {
        services.AddSingleton(settings);
        services.AddSingleton(settings.Node);
        services.AddSingleton(settings.Http);
        services.AddSingleton(settings.Storage);
        services.AddSingleton(settings.Network);
        services.AddSingleton(settings.Hardware);
        services.AddSingleton(settings.Tasks);
        services.AddSingleton(settings.Resources);
        services.AddSingleton(settings.Monitoring);
        services.AddSingleton(settings.Quotas);
        services.AddSingleton(settings.Security);
        services.AddSingleton(settings.Aggregation);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new NodeClock(DateTimeOffset.UtcNow));

        services.AddSingleton(_ => settings.Node.IdentityKey is { } key
            ? NodeIdentity.FromPrivateKey(key, settings.Node.DeviceId)
            : NodeIdentity.LoadOrCreate(settings.Storage.DataDirectory, settings.Node.DeviceId));

        services.AddSingleton(_ => new Core.Optimization.SqliteTuning(settings.Storage, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes));
        services.AddSingleton<Core.Optimization.IOptimizationSource>(sp => sp.GetRequiredService<Core.Optimization.SqliteTuning>());
        services.AddSingleton(sp =>
        {
            var database = new NodeDatabase(Path.Combine(settings.Storage.DataDirectory, "node.db"));
            database.Migrate(Migrations.All, Path.Combine(settings.Storage.DataDirectory, "backups"));
            var sqlite = sp.GetRequiredService<Core.Optimization.SqliteTuning>();
            database.SetMemory(sqlite.CacheMB * 1024 * 1024, sqlite.MmapMB * 1024 * 1024);
            return database;
        });
        services.AddSingleton(_ => new BlobStore(settings.Storage.DataDirectory));
        services.AddSingleton(sp => new BlobRetention(sp.GetRequiredService<NodeDatabase>(), sp.GetRequiredService<BlobStore>()));
        services.AddSingleton<IntakeState>();
        services.AddSingleton<SecurityEvents>();
        services.AddSingleton<Core.Optimization.IOptimizationSource, GcChoice>();
        return services;
    }

    /// <summary>The durable queue, the scheduler, the built-in runtimes and the result sweeper.</summary>
    public static IServiceCollection AddTaskEngine(this IServiceCollection services)
    {
        services.AddSingleton<TaskStore>();
        services.AddSingleton<ITaskStore>(sp => sp.GetRequiredService<TaskStore>());
        services.AddSingleton<TaskMetrics>();
        services.AddSingleton<IResourceLedger>(sp => new ResourceLedger(
            SystemCapacity.Allowed(sp.GetRequiredService<ResourceOptions>(), sp.GetRequiredService<StorageOptions>(), sp.GetService<HardwareProfiler>()?.Current),
            sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<ITaskRuntime, StoreRuntime>();
        services.AddSingleton<ITaskRuntime, ProcessRuntime>();
        services.AddSingleton<ITaskRuntime, AggregateRuntime>();
        services.AddSingleton<ITaskRuntime, ValidateRuntime>();
        services.AddSingleton<Core.Optimization.RunSlots>();
        services.AddSingleton<Core.Optimization.IOptimizationSource>(sp => sp.GetRequiredService<Core.Optimization.RunSlots>());
        services.AddSingleton<Core.Optimization.CostHistoryStore>();
        services.AddSingleton(sp => new Core.Optimization.CostModel(
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Core.Optimization.CostHistoryStore>(),
            sp.GetService<HardwareProfiler>(),
            sp.GetRequiredService<ILogger<Core.Optimization.CostModel>>()));
        // The host's lifecycle hooks, in the order they run after the engine's own (the scratch directory, the cost
        // model): see TaskLifecycle and docs/ARCHITECTURE.md. Aggregation adds its prestart (fetching a part's blobs
        // from peers) and its poststop (reporting to the group leader) to this list.
        services.AddSingleton(sp => new TaskHooks(
        [
            sp.GetService<RequesterQuotas>() is { } quotas ? new QuotaChargeHook(quotas) : null,
            sp.GetService<Networking.Regional.RegionalFinishedTasks>(),
        ]));
        services.AddSingleton<TaskEngine>();
        services.AddSingleton<TaskAdmission>();
        services.AddHostedService<TaskEngineService>();
        services.AddHostedService<ResultSweeper>();
        return services;
    }

    /// <summary>Live usage sampling, the pressure rule and per-requester quotas.</summary>
    public static IServiceCollection AddResourceManager(this IServiceCollection services)
    {
        services.AddSingleton<IUsageSource, LinuxUsageSource>(sp =>
        {
            var nvidia = sp.GetService<Core.Hardware.HardwareProfiler>()?.Current.Gpus.Any(g => g.Vendor.Equals("NVIDIA", StringComparison.OrdinalIgnoreCase)) == true;
            return new LinuxUsageSource(sp.GetRequiredService<StorageOptions>(), gpus: nvidia ? new NvidiaGpuUsage(new Core.Hardware.ProcessToolRunner()) : null);
        });
        services.AddSingleton<PressureMonitor>();
        services.AddSingleton<ResourceSampler>();
        services.AddHostedService(sp => sp.GetRequiredService<ResourceSampler>());
        services.AddSingleton<RequesterQuotas>();
        return services;
    }
}

/// <summary>When the node started, for uptime.</summary>
internal sealed record NodeClock(DateTimeOffset StartedAt);
