using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tenzro.Node.IntegrationTests.Operations;

/// <summary>
/// The Dockerfile's run stage, exercised without a container engine: its ENTRYPOINT and HEALTHCHECK commands
/// run as plain processes against the built node, with its ENV (the API on loopback and a temporary folder
/// for /data, as every test here keeps to 127.0.0.1).
/// </summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "operations")]
public sealed partial class ContainerImageTests
{
    [Fact]
    public async Task Dockerfile_EntrypointServesAndHealthcheckPassesThenFailsOnceStopped()
    {
        var image = RunStage(await File.ReadAllTextAsync(Path.Combine(NodeProcess.RepositoryRoot(), "Dockerfile")));
        var work = NodeProcess.NewDirectory();
        var port = NodeProcess.FreePort().ToString(CultureInfo.InvariantCulture);
        var environment = new Dictionary<string, string>(image.Environment)
        {
            ["HOST"] = "127.0.0.1",
            ["PORT"] = port,
            ["DATA_DIR"] = Path.Combine(work, "data"),
            ["BENCHMARK_ON_START"] = "false",
            ["MIN_STORAGE_GB"] = "0",
        };
        string[] InHost(IEnumerable<string> command) => [.. command.Select(a => a == "/app/tenzro-node.dll" ? NodeProcess.DllPath() : a.Replace(":8080", ":" + port, StringComparison.Ordinal))];

        var entrypoint = InHost(image.Entrypoint);
        var healthcheck = InHost(image.Healthcheck);
        var start = new ProcessStartInfo(entrypoint[0]) { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in entrypoint.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        int healthyCode;
        using (var node = Process.Start(start)!)
        {
            try
            {
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
                do
                {
                    healthyCode = await RunAsync(healthcheck, environment);
                }
                while (healthyCode != 0 && !node.HasExited && DateTime.UtcNow < deadline);
            }
            finally
            {
                node.Kill(entireProcessTree: true);
                await node.WaitForExitAsync();
            }
        }

        var stoppedCode = await RunAsync(healthcheck, environment);

        Assert.Equal("dotnet", entrypoint[0]);
        Assert.Contains("health-check", healthcheck);
        Assert.Equal(0, healthyCode);
        Assert.NotEqual(0, stoppedCode);
        Assert.Equal("/data", image.Environment["DATA_DIR"]);
        Assert.Contains("/data", image.Volumes);
        Assert.NotEqual("root", image.User);
        Assert.DoesNotContain("alpine", image.BaseImage, StringComparison.OrdinalIgnoreCase);
    }

    private sealed record Stage(string BaseImage, Dictionary<string, string> Environment, string[] Entrypoint, string[] Healthcheck, string User, string[] Volumes);

    /// <summary>The last stage of the Dockerfile: base image, ENV, ENTRYPOINT and HEALTHCHECK CMD (exec form), USER, VOLUME.</summary>
    private static Stage RunStage(string dockerfile)
    {
        var instructions = ContinuedLine().Replace(dockerfile, " ")
            .Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .ToList();
        var last = instructions.FindLastIndex(l => l.StartsWith("FROM ", StringComparison.Ordinal));
        var stage = instructions.Skip(last).ToList();
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var env in stage.Where(l => l.StartsWith("ENV ", StringComparison.Ordinal)))
        {
            foreach (Match pair in EnvPair().Matches(env[4..]))
            {
                environment[pair.Groups[1].Value] = pair.Groups[2].Value;
            }
        }

        string[] Exec(string prefix) => JsonSerializer.Deserialize<string[]>(stage.Single(l => l.StartsWith(prefix, StringComparison.Ordinal)) is var line ? line[line.IndexOf('[', StringComparison.Ordinal)..] : "[]")!;
        return new Stage(
            stage[0]["FROM ".Length..].Trim(),
            environment,
            Exec("ENTRYPOINT "),
            Exec("HEALTHCHECK "),
            stage.Last(l => l.StartsWith("USER ", StringComparison.Ordinal))["USER ".Length..].Trim(),
            Exec("VOLUME "));
    }

    private static async Task<int> RunAsync(string[] command, Dictionary<string, string> environment) =>
        (await Cli.RunProgramAsync(command[0], null, environment, TimeSpan.FromSeconds(30), command[1..])).ExitCode;

    [GeneratedRegex(@"\\\r?\n")]
    private static partial Regex ContinuedLine();

    [GeneratedRegex(@"([A-Z_][A-Z0-9_]*)=(\S+)")]
    private static partial Regex EnvPair();
}
