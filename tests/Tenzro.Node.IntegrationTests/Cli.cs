using System.Diagnostics;

namespace Tenzro.Node.IntegrationTests;

/// <summary>Runs the built <c>tenzro-node</c> with arguments and captures its exit code and output.</summary>
public static class Cli
{
    public static Task<(int ExitCode, string Output)> RunAsync(params string[] arguments) => RunInAsync(null, null, arguments);

    /// <summary>Runs on <paramref name="node"/>'s machine as its owner would: in its directory, so the CLI finds DATA_DIR/admin.token.</summary>
    public static Task<(int ExitCode, string Output)> RunOnAsync(NodeProcess node, params string[] arguments) =>
        RunInAsync(node.DataDirectory, new Dictionary<string, string> { ["DATA_DIR"] = Path.Combine(node.DataDirectory, "data") }, [.. arguments, "--url", node.BaseAddress.ToString()]);

    /// <summary>Runs in <paramref name="workingDirectory"/> with extra environment variables.</summary>
    public static Task<(int ExitCode, string Output)> RunInAsync(string? workingDirectory, IDictionary<string, string>? environment, params string[] arguments) =>
        RunProgramAsync("dotnet", workingDirectory, environment, TimeSpan.FromSeconds(60), [NodeProcess.DllPath(), .. arguments]);

    /// <summary>Runs any program (dotnet itself, an installed tool) and captures its exit code and output; throws after <paramref name="timeout"/>.</summary>
    public static async Task<(int ExitCode, string Output)> RunProgramAsync(string fileName, string? workingDirectory, IDictionary<string, string>? environment, TimeSpan timeout, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null)
        {
            start.WorkingDirectory = workingDirectory;
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["NO_COLOR"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cancel.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
