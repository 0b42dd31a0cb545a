using Microsoft.Extensions.Logging;
using Tenzro.Node.Runtimes.Diagnostics;

namespace Tenzro.Node.Runtimes.Training;

internal sealed partial class TrainRuntime
{
    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.TrainingFinished, Level = LogLevel.Information, Message = "Task {TaskId} trained a {Model} model on {Rows} rows of {Features} features for {Epochs} epochs; final loss {FinalLoss}")]
        public static partial void Trained(ILogger logger, string taskId, string model, int rows, int features, int epochs, double finalLoss);

        [LoggerMessage(EventId = LogEvents.TrainingFinishedInWorker, Level = LogLevel.Information, Message = "Task {TaskId} trained a {Model} model on {Rows} rows in a worker; final loss {FinalLoss}")]
        public static partial void TrainedInWorker(ILogger logger, string taskId, string model, int rows, double finalLoss);
    }
}
