using Microsoft.Extensions.Logging;
using Tenzro.Node.Runtimes.Diagnostics;

namespace Tenzro.Node.Runtimes.Wasm;

internal sealed partial class WasmModuleCache
{
    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.WasmCacheWriteFailed, Level = LogLevel.Warning, Message = "Could not save the compiled module {Path}; it is compiled again after a restart")]
        public static partial void CacheWriteFailed(ILogger logger, Exception exception, string path);

        [LoggerMessage(EventId = LogEvents.WasmCacheEntryDiscarded, Level = LogLevel.Information, Message = "Discarded the compiled module {Path}, which this Wasmtime cannot load; compiling again")]
        public static partial void CacheEntryDiscarded(ILogger logger, Exception exception, string path);

        [LoggerMessage(EventId = LogEvents.WasmCacheTrimFailed, Level = LogLevel.Warning, Message = "Could not trim the compiled module cache {Directory}")]
        public static partial void CacheTrimFailed(ILogger logger, Exception exception, string directory);
    }
}
