using Tenzro.Node.Core.Resources;
using Tenzro.Node.Runtimes.Workers;

namespace Tenzro.Node.Hosting;

/// <summary>How the node starts its runtime workers: its own executable with the hidden <c>worker</c> subcommand.</summary>
internal static class WorkerServices
{
    /// <summary>Registers the <see cref="WorkerLaunch"/> the ONNX Runtime and training pools start workers with.</summary>
    public static IServiceCollection AddRuntimeWorkerLaunch(this IServiceCollection services)
    {
        services.AddSingleton(sp =>
        {
            var (fileName, arguments) = Executable();
            var lent = sp.GetRequiredService<IResourceLedger>().Allowed.MemoryMB * 1024L * 1024;
            return new WorkerLaunch(fileName, arguments, Math.Max(lent, 64L * 1024 * 1024));
        });
        return services;
    }

    /// <summary>
    /// The program and the arguments before <c>worker</c>: the <c>dotnet</c> host running this process with the path of
    /// <c>tenzro-node.dll</c> (a node started as <c>dotnet tenzro-node.dll</c>, as the Dockerfile does, and the test
    /// host), else the <c>tenzro-node</c> apphost beside the assembly.
    /// </summary>
    private static (string FileName, string[] Arguments) Executable()
    {
        var assembly = typeof(WorkerServices).Assembly.Location;
        var process = Environment.ProcessPath;
        if (process is not null && Path.GetFileNameWithoutExtension(process) == "dotnet")
        {
            return (process, [assembly]);
        }

        var apphost = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "tenzro-node.exe" : "tenzro-node");
        return File.Exists(apphost) ? (apphost, []) : ("dotnet", [assembly]);
    }
}
