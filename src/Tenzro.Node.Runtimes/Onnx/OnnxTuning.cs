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
/// not reserve (ONNX_SESSION_CACHE_MB overrides it), the CPU memory arena and whether a run keeps its buffers in it
/// from the memory available at that run (ONNX_MEMORY_ARENA overrides it), the execution provider from
/// <c>gpuCompute</c> (ONNX_EXECUTION_PROVIDER=cpu keeps every session on the CPU), and the thread counts from each
/// task's reservation (ONNX_THREADS overrides them). Listed in the profile's <c>optimizations</c>.
/// </summary>
/// <remarks>Thread-safe: the figures read at each run come from thread-safe sources.</remarks>
internal sealed class OnnxTuning : IOptimizationSource
{
    public const long MinCacheMB = 64;
    public const long MaxCacheMB = 4096;

    private readonly string _cacheReason;
    private readonly string? _arenaFixedReason;
    private readonly GpuComputeInfo? _gpuCompute;
    private readonly TaskOptions _options;
    private readonly IResourceLedger _ledger;
    private readonly Func<long> _availableMB;

    /// <param name="options">The task settings.</param>
    /// <param name="ledger">What the network may reserve.</param>
    /// <param name="profile">The machine; null where no profiler runs (the runtime's own figures stand in).</param>
    /// <param name="inWorkers">Whether inference runs in worker processes; null: as TASK_WORKERS says.</param>
    /// <param name="availableNowMB">
    /// The host memory available now, in MB (the resource sampler's latest figure); null where nothing samples it, or
    /// when it gives null (no sample yet): the figure of <paramref name="profile"/> stands in.
    /// </param>
    public OnnxTuning(TaskOptions options, IResourceLedger ledger, HardwareProfile? profile, bool? inWorkers = null, Func<long?>? availableNowMB = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _ledger = ledger ?? throw new ArgumentNullException(nameof(ledger));
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

        var atStartMB = (profile?.Memory.AvailableBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes) / (1024 * 1024);
        _availableMB = () => availableNowMB?.Invoke() ?? atStartMB;
        (MemoryArena, ArenaPerRun, _arenaFixedReason) = options.OnnxMemoryArena switch
        {
            "on" => (true, false, "ONNX_MEMORY_ARENA is set: every run keeps its buffers for the next one"),
            "off" => (false, false, "ONNX_MEMORY_ARENA is set"),
            _ when !(inWorkers ?? options.Workers) => (false, false, "inference runs in the node's process (TASK_WORKERS=false), where a cached session would keep its largest run's buffers for as long as the node runs"),
            _ => (true, true, null),
        };
    }

    /// <summary>The session cache's budget, in MB of model files.</summary>
    public long SessionCacheMB { get; }

    /// <summary>Whether sessions load with ONNX Runtime's CPU memory arena (in the workers, or in the node's process where inference runs there).</summary>
    public bool MemoryArena { get; }

    /// <summary>
    /// Whether each run decides from the memory available then if the arena keeps its buffers after it
    /// (<see cref="KeepArenaRule"/>): ONNX_MEMORY_ARENA=auto with inference in workers. Otherwise an arena keeps them always.
    /// </summary>
    public bool ArenaPerRun { get; }

    /// <summary>
    /// Whether a run that starts now keeps its buffers in the arena when it ends (true), or gives back the arena's free
    /// memory at its end (false): always true where the arena is not decided per run.
    /// </summary>
    /// <remarks>On every inference task's path: compares two figures and formats no reason.</remarks>
    public bool KeepArenaNow() => !ArenaPerRun || _availableMB() >= ArenaNeed(_ledger.Maximum.MemoryMB, Slots(), SessionCacheMB).NeedMB;

    /// <summary>
    /// ONNX_MEMORY_ARENA=auto in workers, at each run: the arena keeps the run's buffers for the worker's next run only when
    /// the memory available now covers all the network may reserve plus what one worker may use (a run slot's share of
    /// that memory, and its share of the session cache); else the run gives them back as it ends. A worker at rest keeps
    /// what its arena holds until it retires, outside every task's reservation (the ledger holds only what a worker took
    /// as it started), so the buffers stay only where, with every reservation taken on top of what is used now, the
    /// machine still has room for one worker's buffers at rest.
    /// </summary>
    public static (bool Keep, string Reason) KeepArenaRule(long availableMB, long reservableMB, int slots, long sessionCacheMB)
    {
        var (workerMB, cacheShareMB, needMB) = ArenaNeed(reservableMB, slots, sessionCacheMB);
        slots = Math.Max(slots, 1);
        var keep = availableMB >= needMB;
        return (keep, string.Create(
            CultureInfo.InvariantCulture,
            $"decided at each run: now {availableMB} MB available {(keep ? "≥" : "<")} {reservableMB} MB the network may reserve + {workerMB} MB one worker may use ({reservableMB} MB over {slots} run slots, and {cacheShareMB} MB of session cache) = {needMB} MB: {(keep ? "a run keeps its buffers for the worker's next run" : "a run gives its buffers back as it ends")}"));
    }

    /// <summary>What one worker may use (a run slot's share of the reservable memory and of the session cache), and the memory <see cref="KeepArenaRule"/> needs available.</summary>
    private static (long WorkerMB, long CacheShareMB, long NeedMB) ArenaNeed(long reservableMB, int slots, long sessionCacheMB)
    {
        slots = Math.Max(slots, 1);
        var cacheShareMB = RuntimeWorkers.CacheShareBytes(sessionCacheMB * 1024 * 1024, slots) / (1024 * 1024);
        var workerMB = ((reservableMB + slots - 1) / slots) + cacheShareMB;
        return (workerMB, cacheShareMB, reservableMB + workerMB);
    }

    /// <summary>The workers that may run at once for the shares: the run slots of tasks not held to a fraction of a core (two a core).</summary>
    private int Slots() => _options.MaxConcurrentTasks ?? RunSlotRule.UnheldSlots(_ledger.Allowed);

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

    /// <summary>The intra-op threads of a session for a task that reserved <paramref name="reservedCpu"/> cores: ONNX_THREADS where it is set, else <see cref="IntraOpThreads"/>.</summary>
    public int IntraOpThreadsFor(double reservedCpu) => _options.OnnxThreads ?? IntraOpThreads(reservedCpu);

    /// <summary>False with ONNX_EXECUTION_PROVIDER=cpu: no session runs on CUDA, and a task that asks for a GPU is refused.</summary>
    public bool CudaAllowed => _options.OnnxExecutionProvider != "cpu";

    public IEnumerable<OptimizationChoice> Choices()
    {
        yield return new OptimizationChoice("ONNX_SESSION_CACHE_MB", JsonValue.Create(SessionCacheMB), _cacheReason, "ONNX_SESSION_CACHE_MB");
        var (keep, arenaReason) = ArenaPerRun
            ? KeepArenaRule(_availableMB(), _ledger.Maximum.MemoryMB, Slots(), SessionCacheMB)
            : (MemoryArena, _arenaFixedReason!);
        yield return new OptimizationChoice("ONNX_MEMORY_ARENA", JsonValue.Create(keep ? "on" : "off"), arenaReason, "ONNX_MEMORY_ARENA");
        var cuda = CudaAllowed && _gpuCompute is { Available: true };
        yield return new OptimizationChoice(
            "ONNX_EXECUTION_PROVIDER",
            JsonValue.Create(cuda ? $"{OnnxCapabilities.CudaProvider} for tasks with requirements.gpuCount, else CPUExecutionProvider" : "CPUExecutionProvider"),
            !CudaAllowed ? "ONNX_EXECUTION_PROVIDER is set: the CPU only; tasks that ask for a GPU are refused"
                : cuda ? "gpuCompute.available: the CUDA provider loaded"
                : $"gpuCompute: {_gpuCompute?.Reason ?? "no GPU probe ran"}",
            "ONNX_EXECUTION_PROVIDER");
        yield return new OptimizationChoice(
            "ONNX_THREADS",
            JsonValue.Create(_options.OnnxThreads is { } threads ? $"intra-op {threads}, inter-op 1, no spinning" : "intra-op ⌈requirements.cpu⌉, inter-op 1, no spinning"),
            _options.OnnxThreads is not null
                ? "ONNX_THREADS is set: every session runs that many threads, whatever its task reserved"
                : "each session uses the cores its task reserved and no more, so tasks running beside it keep theirs",
            "ONNX_THREADS");
    }
}
