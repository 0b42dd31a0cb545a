using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Optimization;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Runtimes.Workers;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>DI registration of the ONNX component: model store, session cache, capabilities, workers and the inference runtime.</summary>
internal static class OnnxServiceCollectionExtensions
{
    /// <summary>
    /// Adds the <c>inference</c> task type and the model store. Needs the core store and the task engine's
    /// services (<c>NodeDatabase</c>, <c>BlobStore</c>, <c>ITaskStore</c>, <c>IResourceLedger</c>, <c>TimeProvider</c>).
    /// Runs ONNX Runtime in worker processes when a <see cref="WorkerLaunch"/> is registered and TASK_WORKERS is on.
    /// </summary>
    /// <param name="sessionCacheBytes">A fixed session cache budget (tests); null: <see cref="OnnxTuning"/> derives it.</param>
    public static IServiceCollection AddOnnxRuntime(this IServiceCollection services, long? sessionCacheBytes = null)
    {
        services.AddSingleton<OnnxCapabilities>();
        services.AddSingleton(sp => new OnnxTuning(
            sp.GetRequiredService<TaskOptions>(),
            sp.GetRequiredService<IResourceLedger>(),
            sp.GetService<HardwareProfiler>()?.Current,
            inWorkers: sp.GetRequiredService<TaskOptions>().Workers && sp.GetService<WorkerLaunch>() is not null,
            availableNowMB: AvailableNow(sp.GetService<ResourceSampler>())));
        services.AddSingleton<IOptimizationSource>(sp => sp.GetRequiredService<OnnxTuning>());
        long CacheBytes(IServiceProvider sp) => sessionCacheBytes ?? (sp.GetRequiredService<OnnxTuning>().SessionCacheMB * 1024 * 1024);
        services.AddSingleton(sp => new SessionCache(CacheBytes(sp), measureMemory: static () => Environment.WorkingSet));
        services.AddSingleton(sp => new InferenceExecutor(
            sp.GetRequiredService<SessionCache>(), sp.GetRequiredService<ILogger<InferenceExecutor>>(), sp.GetRequiredService<OnnxTuning>().MemoryArena));
        services.AddSingleton(sp => new OnnxWorkers(RuntimeWorkers.Create(sp, WorkerRuntimes.Onnx, "ONNX Runtime", CacheBytes(sp))));
        services.AddSingleton<ModelCatalog>();
        services.AddSingleton<InferenceRuntime>();
        services.AddSingleton<ITaskRuntime>(sp => sp.GetRequiredService<InferenceRuntime>());
        return services;
    }

    /// <summary>The host memory available at the resource sampler's latest sample, in MB; null before its first.</summary>
    private static Func<long?>? AvailableNow(ResourceSampler? sampler) => sampler is null
        ? null
        : () => sampler.Current is { MemoryTotalBytes: > 0 } usage ? usage.MemoryAvailableBytes / (1024 * 1024) : null;
}

/// <summary>The ONNX Runtime workers (a type of its own so that DI tells them from the training workers).</summary>
internal sealed class OnnxWorkers(RuntimeWorkers workers) : IDisposable
{
    public WorkerPool? Pool => workers.Pool;

    public long CacheBytesPerWorker => workers.CacheBytesPerWorker;

    public void Dispose() => workers.Dispose();
}
