using System.Text.Json.Nodes;

namespace Tenzro.Node.Runtimes.Workers;

/// <summary>What a runtime worker process runs: one job at a time, in the worker, on the request loop's thread.</summary>
internal interface IWorkerJob
{
    /// <summary>
    /// Runs one job and gives the task's result. Throws <see cref="Core.Tasks.TaskExecutionException"/> for a task that
    /// fails with a reason the user should see.
    /// </summary>
    JsonObject Run(JsonObject job, IProgress<double> progress);

    /// <summary>Figures the node shows for the runtime (cache and run counters), sent with every answer.</summary>
    JsonObject Stats();
}
