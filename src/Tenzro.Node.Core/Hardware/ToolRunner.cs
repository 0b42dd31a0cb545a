using System.ComponentModel;
using System.Diagnostics;

namespace Tenzro.Node.Core.Hardware;

public enum ToolOutcome
{
    Ok,
    NotInstalled,
    Failed,
    TimedOut,
}

/// <summary>What an external tool did.</summary>
/// <param name="Outcome">Ok only for exit code 0 within the timeout.</param>
/// <param name="Output">Standard output (empty unless <see cref="ToolOutcome.Ok"/>).</param>
/// <param name="Detail">Why it was not Ok, for the log.</param>
public sealed record ToolResult(ToolOutcome Outcome, string Output, string? Detail = null)
{
    public static ToolResult NotInstalled(string tool) => new(ToolOutcome.NotInstalled, "", $"{tool} is not on PATH");
}

/// <summary>Runs external tools (nvidia-smi, lspci) for the profiler.</summary>
/// <remarks>Implementations must be safe to call concurrently and must never wait past the timeout.</remarks>
public interface IToolRunner
{
    Task<ToolResult> RunAsync(string tool, IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>
/// Runs a tool found on PATH as a child process with <c>LC_ALL=C</c>, killing its whole process tree when it
/// outlives the timeout, so that a hung driver tool never stalls start-up.
/// </summary>
public sealed class ProcessToolRunner : IToolRunner
{
    public async Task<ToolResult> RunAsync(string tool, IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tool);
        ArgumentNullException.ThrowIfNull(arguments);
        if (FindOnPath(tool) is not { } executable)
        {
            return ToolResult.NotInstalled(tool);
        }

        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        start.Environment["LC_ALL"] = "C";
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            return new ToolResult(ToolOutcome.Failed, "", $"{tool} could not start: {e.Message}");
        }

        process.StandardInput.Close();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        // The reads end when the pipes close, which killing the process tree guarantees.
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
            var output = await stdout.WaitAsync(deadline.Token);
            var error = await stderr.WaitAsync(deadline.Token);
            return process.ExitCode == 0
                ? new ToolResult(ToolOutcome.Ok, output)
                : new ToolResult(ToolOutcome.Failed, "", $"{tool} exited with {process.ExitCode}: {FirstLine(error.Length > 0 ? error : output)}");
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It exited between the timeout and the kill.
            }

            cancellationToken.ThrowIfCancellationRequested();
            return new ToolResult(ToolOutcome.TimedOut, "", $"{tool} did not finish within {timeout.TotalSeconds:0.#} s and was stopped");
        }
    }

    /// <summary>The full path of <paramref name="tool"/> on PATH (or the path itself when it has a slash); null when absent.</summary>
    public static string? FindOnPath(string tool)
    {
        ArgumentNullException.ThrowIfNull(tool);
        if (tool.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(tool) ? tool : null;
        }

        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static string FirstLine(string text)
    {
        var trimmed = text.Trim();
        var newline = trimmed.IndexOf('\n', StringComparison.Ordinal);
        return newline < 0 ? trimmed : trimmed[..newline];
    }
}
