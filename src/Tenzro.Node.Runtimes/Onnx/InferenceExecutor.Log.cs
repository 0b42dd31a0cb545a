using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Diagnostics;

namespace Tenzro.Node.Runtimes.Onnx;

internal sealed partial class InferenceExecutor
{
    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.OnnxSessionLoaded, Level = LogLevel.Information, Message = "Loaded model {Sha256} with {Threads} thread(s) on {Provider}")]
        public static partial void SessionLoaded(ILogger logger, string sha256, int threads, string provider);
    }
}
