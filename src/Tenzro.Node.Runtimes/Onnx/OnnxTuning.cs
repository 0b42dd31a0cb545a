using System.Globalization;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Optimization;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// ONNX Runtime's settings as the profile decides them: the session cache's budget from the memory the network may
/// not reserve (ONNX_SESSION_CACHE_MB overrides it), the execution provider from <c>gpuCompute</c>, and the thread
/// counts from each task's reservation. Listed in the profile's <c>optimizations</c>.
/// </summary>
/// <remarks>Immutable after construction; thread-safe.</remarks>
internal sealed class OnnxTuning : IOptimizationSource
{
    public const long MinCacheMB = 64;
    public const long MaxCacheMB = 4096;

    private readonly string _cacheReason;
    private readonly GpuComputeInfo? _gpuCompute;

    public OnnxTuning(TaskOptions options, IResourceLedger ledger, HardwareProfile? profile)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(ledger);
        _gpuCompute = profile?.GpuCompute;
        if (options.OnnxSessionCacheMB is { } configured)
        {
            SessionCacheMB = configured;
            _cacheReason = "ONNX_SESSION_CACHE_MB is set";
            return;
        }

        var usableMB = (profile?.Memory.UsableBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes) / (1024 * 1024);
        (SessionCacheMB, _cacheReason) = SessionCacheRule(usableMB, ledger.Maximum.MemoryMB);
    }

    /// <summary>The session cache's budget, in MB of model files.</summary>
    public long SessionCacheMB { get; }

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
