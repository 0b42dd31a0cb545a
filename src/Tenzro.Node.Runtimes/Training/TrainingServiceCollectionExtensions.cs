using Microsoft.Extensions.DependencyInjection;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Runtimes.Workers;

namespace Tenzro.Node.Runtimes.Training;

/// <summary>DI registration of the training component.</summary>
public static class TrainingServiceCollectionExtensions
{
    /// <summary>
    /// Adds the <c>train</c> task type. Needs the blob store (AddNodeCore) and the task engine (AddTaskEngine). Trains in
    /// worker processes when a <see cref="WorkerLaunch"/> is registered and TASK_WORKERS is on.
    /// </summary>
    public static IServiceCollection AddTrainingRuntime(this IServiceCollection services)
    {
        services.AddSingleton(sp => new TrainWorkers(RuntimeWorkers.Create(sp, WorkerRuntimes.Train, "training", cacheBudgetBytes: 0)));
        services.AddSingleton<ITaskRuntime, TrainRuntime>();
        return services;
    }
}

/// <summary>The training workers (a type of its own so that DI tells them from the ONNX Runtime workers).</summary>
internal sealed class TrainWorkers(RuntimeWorkers workers) : IDisposable
{
    public WorkerPool? Pool => workers.Pool;

    public void Dispose() => workers.Dispose();
}
