using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>DI registration of the WebAssembly sandbox.</summary>
public static class WasmServiceCollectionExtensions
{
    /// <summary>
    /// Adds the <c>compute</c> task runtime: the process's shared Wasmtime engine, the compiled-module cache
    /// under <c>{DATA_DIR}/wasm-cache</c> and the runtime itself. Needs <see cref="StorageOptions"/> and the
    /// blob store (AddNodeCore) and the task engine (AddTaskEngine).
    /// </summary>
    public static IServiceCollection AddWasmRuntime(this IServiceCollection services)
    {
        services.AddSingleton(_ => WasmEngine.Shared);
        services.AddSingleton(sp => WasmCacheChoice.DiskBudget(sp.GetRequiredService<TaskOptions>(), sp.GetRequiredService<StorageOptions>().DataDirectory));
        services.AddSingleton(sp => new WasmModuleCache(
            sp.GetRequiredService<WasmEngine>(),
            Path.Combine(sp.GetRequiredService<StorageOptions>().DataDirectory, "wasm-cache"),
            sp.GetRequiredService<ILogger<WasmModuleCache>>(),
            diskCapacityBytes: sp.GetRequiredService<WasmCacheBudget>().MB << 20));
        services.AddSingleton<Core.Optimization.IOptimizationSource>(sp => new WasmCacheChoice(sp.GetRequiredService<WasmModuleCache>(), sp.GetRequiredService<WasmCacheBudget>().Reason));
        services.AddSingleton(sp => ScratchImages.Detect(
            sp.GetRequiredService<TaskOptions>().ScratchQuota,
            Path.Combine(sp.GetRequiredService<StorageOptions>().DataDirectory, "scratch"),
            sp.GetRequiredService<ILogger<ScratchImages>>()));
        services.AddSingleton<Core.Optimization.IOptimizationSource>(sp => sp.GetRequiredService<ScratchImages>());
        services.AddSingleton<ITaskRuntime, WasmRuntime>();
        return services;
    }
}
