using Microsoft.Extensions.DependencyInjection;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>DI registration of the ONNX component: model store, session cache, capabilities, and the inference runtime.</summary>
internal static class OnnxServiceCollectionExtensions
{
    /// <summary>
    /// Adds the <c>inference</c> task type and the model store. Needs the core store and the task engine's
    /// services (<c>NodeDatabase</c>, <c>BlobStore</c>, <c>TaskStore</c>, <c>IResourceLedger</c>, <c>TimeProvider</c>).
    /// </summary>
    public static IServiceCollection AddOnnxRuntime(this IServiceCollection services, long sessionCacheBytes = SessionCache.DefaultCapacityBytes)
    {
        services.AddSingleton<OnnxCapabilities>();
        services.AddSingleton(_ => new SessionCache(sessionCacheBytes));
        services.AddSingleton<ModelCatalog>();
        services.AddSingleton<InferenceRuntime>();
        services.AddSingleton<ITaskRuntime>(sp => sp.GetRequiredService<InferenceRuntime>());
        return services;
    }
}
