namespace Tenzro.Node.Runtimes.Diagnostics;

/// <summary>
/// Event ids of every log message in Tenzro.Node.Runtimes, in one list so that none repeats.
/// Ranges: 61xx WebAssembly sandbox, 62xx ONNX Runtime, 63xx training, 72xx runtime workers.
/// </summary>
internal static class LogEvents
{
    public const int WasmCacheWriteFailed = 6101;
    public const int WasmCacheEntryDiscarded = 6102;
    public const int WasmCacheTrimFailed = 6103;
    public const int ScratchImagesOff = 6104;
    public const int ScratchImageFailed = 6105;

    public const int TrainingFinished = 6301;
    public const int TrainingFinishedInWorker = 6302;

    public const int WorkerStarted = 7201;
    public const int WorkerMemoryLimit = 7202;
    public const int WorkerStopped = 7203;
    public const int WorkerCpuQuotaRefused = 7204;
}
