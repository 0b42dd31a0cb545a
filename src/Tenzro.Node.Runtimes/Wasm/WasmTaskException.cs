using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>Why a <c>compute</c> task failed, for tests and logs; the message is what the user reads.</summary>
internal enum WasmFailure
{
    InvalidTask,
    NotWasm,
    MissingImport,
    MissingExport,
    BadArguments,
    OutOfFuel,
    MemoryLimit,
    StackOverflow,
    Trap,
    OutputLimit,
    ScratchLimit,
    Exited,
    DeadlinePassed,
}

/// <summary>A <c>compute</c> task failed for a reason the user should see.</summary>
internal sealed class WasmTaskException(WasmFailure failure, string message, Exception? inner = null) : TaskExecutionException(message, inner)
{
    public WasmFailure Failure { get; } = failure;
}
