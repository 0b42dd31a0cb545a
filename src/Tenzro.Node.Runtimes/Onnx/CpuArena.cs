using Microsoft.ML.OnnxRuntime;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// The one CPU memory arena of a process, shared by every session that runs with the arena (ONNX_MEMORY_ARENA): registered
/// with ONNX Runtime's environment on first use, it grows by what a run asks for and no more (the arena's own default
/// doubles each region, which could take twice a task's buffers and so run into the memory limit of a task that fits its
/// reservation). Shared, the arena keeps the largest run's buffers once per process rather than once per cached session.
/// </summary>
/// <remarks>Thread-safe.</remarks>
internal static class CpuArena
{
    /// <summary>ONNX Runtime's <c>ArenaExtendStrategy::kSameAsRequested</c>.</summary>
    private const int SameAsRequested = 1;

    private static readonly Lazy<bool> Registered = new(Register, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Makes <paramref name="options"/> use the shared arena, registering it first where it is not yet.</summary>
    public static void Use(SessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _ = Registered.Value;
        options.EnableCpuMemArena = true;
        options.AddSessionConfigEntry("session.use_env_allocators", "1");
    }

    private static bool Register()
    {
        using var memory = new OrtMemoryInfo(OrtMemoryInfo.allocatorCPU, OrtAllocatorType.ArenaAllocator, 0, OrtMemType.Default);

        // No cap of its own (0): the worker's memory limit holds it. -1: ONNX Runtime's defaults for the first region and
        // for the unused bytes a chunk may hold.
        using var configuration = new OrtArenaCfg(0, SameAsRequested, -1, -1);
        OrtEnv.Instance().CreateAndRegisterAllocator(memory, configuration);
        return true;
    }
}
