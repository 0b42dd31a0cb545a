using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Runtimes.Workers;

/// <summary>
/// The worker pool of one runtime, or none where workers are turned off (<c>TASK_WORKERS=false</c>) or the host
/// gave no way to start them (no <see cref="WorkerLaunch"/> registered).
/// </summary>
/// <remarks>Thread-safe; disposing it ends the idle workers (busy ones end with their tasks).</remarks>
internal sealed class RuntimeWorkers(WorkerPool? pool, long cacheBytesPerWorker) : IDisposable
{
    public WorkerPool? Pool => pool;

    /// <summary>The session or model cache each worker may keep: the runtime's budget shared by as many workers as tasks may run at once.</summary>
    public long CacheBytesPerWorker => cacheBytesPerWorker;

    public static RuntimeWorkers Create(IServiceProvider services, string runtime, string displayName, long cacheBudgetBytes)
    {
        var tasks = services.GetService<TaskOptions>() ?? new TaskOptions();
        if (!tasks.Workers || services.GetService<WorkerLaunch>() is not { } launch)
        {
            return new RuntimeWorkers(null, cacheBudgetBytes);
        }

        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger<WorkerPool>();
        var pool = new WorkerPool(runtime, displayName, launch, services.GetRequiredService<TimeProvider>(), logger);
        if (services.GetService<IResourceLedger>() is { } ledger)
        {
            // Workers at rest hold memory outside every task's reservation: the ledger lends it to no task, and what a
            // retired worker gave back may let a waiting task start.
            var holder = $"workers:{runtime}";
            pool.AtRestChanged += () =>
            {
                ledger.Hold(holder, ResourceAmounts.None with { MemoryMB = (pool.AtRestBytes + (1024 * 1024) - 1) / (1024 * 1024) });
                services.GetService<TaskEngine>()?.Pump();
            };
        }

        // Shared by as many workers as tasks of half a core or more keep busy (MAX_CONCURRENT_TASKS, or with auto its run
        // slots for tasks not held to a fraction of a core, two a core): workers for smaller tasks share the same budget.
        var slots = tasks.MaxConcurrentTasks ?? services.GetService<Core.Optimization.RunSlots>()?.UnheldCurrent ?? Environment.ProcessorCount;
        return new RuntimeWorkers(pool, CacheShareBytes(cacheBudgetBytes, slots));
    }

    /// <summary>A worker's share of the runtime's cache budget: the budget over the run slots, at least 16 MB.</summary>
    public static long CacheShareBytes(long cacheBudgetBytes, int slots) => Math.Max(cacheBudgetBytes / Math.Max(slots, 1), 16L * 1024 * 1024);

    public void Dispose() => pool?.Dispose();
}
