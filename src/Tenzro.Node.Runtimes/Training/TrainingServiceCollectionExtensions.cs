using Microsoft.Extensions.DependencyInjection;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Runtimes.Training;

/// <summary>DI registration of the training component.</summary>
public static class TrainingServiceCollectionExtensions
{
    /// <summary>Adds the <c>train</c> task type. Needs the blob store (AddNodeCore) and the task engine (AddTaskEngine).</summary>
    public static IServiceCollection AddTrainingRuntime(this IServiceCollection services)
    {
        services.AddSingleton<ITaskRuntime, TrainRuntime>();
        return services;
    }
}
