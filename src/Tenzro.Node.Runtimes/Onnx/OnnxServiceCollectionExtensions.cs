using Microsoft.Extensions.DependencyInjection;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Optimization;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>DI registration of the ONNX component: model store, session cache, capabilities, and the inference runtime.</summary>
internal static class OnnxServiceCollectionExtensions
{
    /// <summary>
    /// Adds the <c>inference</c> task type and the model store. Needs the core store and the task engine's
    /// services (<c>NodeDatabase</c>, <c>BlobStore</c>, <c>TaskStore</c>, <c>IResourceLedger</c>, <c>TimeProvider</c>).
    /// </summary>
    /// <param name="sessionCacheBytes">A fixed session cache budget (tests); null: <see cref="OnnxTuning"/> derives it.</param>
    public static IServiceCollection AddOnnxRuntime(this IServiceCollection services, long? sessionCacheBytes = null)
    {
        services.AddSingleton<OnnxCapabilities>();
        services.AddSingleton(sp => new OnnxTuning(
            sp.GetRequiredService<TaskOptions>(),
            sp.GetRequiredService<IResourceLedger>(),
            sp.GetService<HardwareProfiler>()?.Current));
        services.AddSingleton<IOptimizationSource>(sp => sp.GetRequiredService<OnnxTuning>());
        services.AddSingleton(sp => new SessionCache(sessionCacheBytes ?? (sp.GetRequiredService<OnnxTuning>().SessionCacheMB * 1024 * 1024)));
        services.AddSingleton<ModelCatalog>();
        services.AddSingleton<InferenceRuntime>();
        services.AddSingleton<ITaskRuntime>(sp => sp.GetRequiredService<InferenceRuntime>());
        return services;
    }
}
