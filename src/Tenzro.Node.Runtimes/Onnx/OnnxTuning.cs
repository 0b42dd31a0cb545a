using System.Globalization;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Optimization;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Runtimes.Workers;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// ONNX Runtime's settings as the profile decides them: the session cache's budget from the memory the network may
/// not reserve (ONNX_SESSION_CACHE_MB overrides it), the CPU memory arena from the memory available at start
/// (ONNX_MEMORY_ARENA overrides it), the execution provider from <c>gpuCompute</c>, and the thread counts from each
/// task's reservation. Listed in the profile's <c>optimizations</c>.
/// </summary>
/// <remarks>Immutable after construction; thread-safe.</remarks>
internal sealed class OnnxTuning : IOptimizationSource
{
    public const long MinCacheMB = 64;
    public const long MaxCacheMB = 4096;

    private readonly string _cacheReason;
    private readonly string _arenaReason;
    private readonly GpuComputeInfo? _gpuCompute;

    /// <param name="options">The task settings.</param>
    /// <param name="ledger">What the network may reserve.</param>
    /// <param name="profile">The machine; null where no profiler runs (the runtime's own figures stand in).</param>
    /// <param name="inWorkers">Whether inference runs in worker processes; null: as TASK_WORKERS says.</param>
    public OnnxTuning(TaskOptions options, IResourceLedger ledger, HardwareProfile? profile, bool? inWorkers = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(ledger);
        _gpuCompute = profile?.GpuCompute;
        if (options.OnnxSessionCacheMB is { } configured)
        {
            SessionCacheMB = configured;
            _cacheReason = "ONNX_SESSION_CACHE_MB is set";
        }
        else
        {
            var usableMB = (profile?.Memory.UsableBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes) / (1024 * 1024);
            (SessionCacheMB, _cacheReason) = SessionCacheRule(usableMB, ledger.Maximum.MemoryMB);
        }

        var availableMB = (profile?.Memory.AvailableBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes) / (1024 * 1024);
        var slots = options.MaxConcurrentTasks ?? RunSlotRule.Derive(ledger.Allowed).Slots;
        (MemoryArena, _arenaReason) = MemoryArenaRule(
            options.OnnxMemoryArena, inWorkers ?? options.Workers, availableMB, ledger.Maximum.MemoryMB, slots, SessionCacheMB);
    }

    /// <summary>The session cache's budget, in MB of model files.</summary>
    public long SessionCacheMB { get; }

    /// <summary>Whether sessions run with ONNX Runtime's CPU memory arena (in the workers, or in the node's process where inference runs there).</summary>
    public bool MemoryArena { get; }

    /// <summary>
    /// ONNX_MEMORY_ARENA: <c>on</c> and <c>off</c> are kept. <c>auto</c> is off where inference runs in the node's process
    /// (a cached session there would keep its largest run's buffers for as long as the node runs), and in workers on
    /// only when the memory available at start covers all the network may reserve plus what one worker may use (a run
    /// slot's share of that memory, and its share of the session cache). With the arena a worker at rest keeps its
    /// largest run's buffers until it retires, outside every task's reservation (the ledger holds only what a worker
    /// took as it started); so the arena is used only where, with every reservation taken, the machine still has room
    /// for one worker's buffers at rest.
    /// </summary>
    public static (bool On, string Reason) MemoryArenaRule(string setting, bool inWorkers, long availableMB, long reservableMB, int slots, long sessionCacheMB)
    {
        switch (setting)
        {
            case "on":
                return (true, "ONNX_MEMORY_ARENA is set");
            case "off":
                return (false, "ONNX_MEMORY_ARENA is set");
        }

        if (!inWorkers)
        {
            return (false, "inference runs in the node's process (TASK_WORKERS=false), where a cached session would keep its largest run's buffers for as long as the node runs");
        }

        slots = Math.Max(slots, 1);
        var cacheShareMB = RuntimeWorkers.CacheShareBytes(sessionCacheMB * 1024 * 1024, slots) / (1024 * 1024);
        var workerMB = ((reservableMB + slots - 1) / slots) + cacheShareMB;
        var needMB = reservableMB + workerMB;
        var on = availableMB >= needMB;
        return (on, string.Create(
            CultureInfo.InvariantCulture,
            $"{availableMB} MB available at start {(on ? "≥" : "<")} {reservableMB} MB the network may reserve + {workerMB} MB one worker may use ({reservableMB} MB over {slots} run slots, and {cacheShareMB} MB of session cache) = {needMB} MB: {(on ? "on, so a worker keeps its run buffers for its next task" : "off, so what a run allocated is given back when it ends")}"));
    }

    /// <summary>
    /// Half the memory the network may not reserve (usable memory less what the ledger may lend), 64 MB to 4 GB: cached
    /// sessions live outside every task's reservation, so they must fit in what the tasks cannot take.
    /// </summary>
    public static (long MB, string Reason) SessionCacheRule(long usableMB, long reservableMB)
    {
        var notLent = Math.Max(usableMB - reservableMB, 0);
        var mb = Math.Clamp(notLent / 2, MinCacheMB, MaxCacheMB);
        return (mb, string.Create(CultureInfo.InvariantCulture, $"{usableMB} MB usable - {reservableMB} MB the network may reserve = {notLent} MB not lent; half of it, {MinCacheMB}-{MaxCacheMB} MB"));
    }

    /// <summary>The intra-op threads of a session: the task's reserved cores, rounded up (inter-op stays 1, the graph runs sequentially).</summary>
    public static int IntraOpThreads(double reservedCpu) => Math.Max(1, (int)Math.Ceiling(reservedCpu));

    public IEnumerable<OptimizationChoice> Choices()
    {
        yield return new OptimizationChoice("ONNX_SESSION_CACHE_MB", JsonValue.Create(SessionCacheMB), _cacheReason, "ONNX_SESSION_CACHE_MB");
        yield return new OptimizationChoice("ONNX_MEMORY_ARENA", JsonValue.Create(MemoryArena ? "on" : "off"), _arenaReason, "ONNX_MEMORY_ARENA");
        var cuda = _gpuCompute is { Available: true };
        yield return new OptimizationChoice(
            "onnxExecutionProvider",
            JsonValue.Create(cuda ? $"{OnnxCapabilities.CudaProvider} for tasks with requirements.gpuCount, else CPUExecutionProvider" : "CPUExecutionProvider"),
            cuda
                ? "gpuCompute.available: the CUDA provider loaded"
                : $"gpuCompute: {_gpuCompute?.Reason ?? "no GPU probe ran"}",
            null);
        yield return new OptimizationChoice(
            "onnxThreads",
            JsonValue.Create("intra-op ⌈requirements.cpu⌉, inter-op 1, no spinning"),
            "each session uses the cores its task reserved and no more, so tasks running beside it keep theirs",
            null);
    }
}
