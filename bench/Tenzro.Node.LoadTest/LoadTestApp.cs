using System.Globalization;

namespace Tenzro.Node.LoadTest;

/// <summary>Parses the command line and runs one scenario.</summary>
internal static class LoadTestApp
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine("usage: <health|submit|get|compute|inference|mixed|slots|estimate|startup> [--duration S] [--clients N] [--runs R] [--url URL] [--node PATH] [--tasks N] [--slots auto|N]");
            return args.Length == 0 ? 2 : 0;
        }

        var options = ScenarioOptions.Parse(args[1..]);
        switch (args[0])
        {
            case "baseline-server":
                await BaselineServer.RunAsync(options.Port);
                return 0;
            case "noop":
                return 0;
        }

        Scenario? scenario = args[0] switch
        {
            "health" => new HealthScenario(),
            "submit" => new SubmitScenario(),
            "get" => new GetTaskScenario(),
            "compute" => new ComputeScenario(),
            "inference" => new InferenceScenario(),
            "mixed" => new MixedScenario(),
            "slots" => new SlotsScenario(),
            "estimate" => new EstimateScenario(),
            "startup" => new StartupScenario(),
            _ => null,
        };
        if (scenario is null)
        {
            await Console.Error.WriteLineAsync($"unknown scenario '{args[0]}'");
            return 2;
        }

        var results = new List<ScenarioResult>();
        for (var run = 1; run <= options.Runs; run++)
        {
            Console.Error.WriteLine($"[{args[0]}] run {run}/{options.Runs}");
            results.Add(await scenario.RunAsync(options));
        }

        ScenarioResult.PrintSummary(args[0], results);
        return results.All(r => r.Ok) ? 0 : 1;
    }
}

/// <summary>Command-line options common to every scenario.</summary>
internal sealed record ScenarioOptions
{
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);
    public int Clients { get; init; } = 32;
    public int Runs { get; init; } = 5;
    public Uri? Url { get; init; }

    /// <summary>The node to start instead of the build output (a published tenzro-node.dll, or its apphost).</summary>
    public string? Node { get; init; }
    public int Port { get; init; }
    public int Tasks { get; init; } = 1000;

    /// <summary>The MAX_CONCURRENT_TASKS the slots scenario compares with the fixed 5 (<c>auto</c> unless given).</summary>
    public string Slots { get; init; } = "auto";

    public static ScenarioOptions Parse(string[] args)
    {
        var options = new ScenarioOptions();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = args[i + 1];
            options = args[i] switch
            {
                "--duration" => options with { Duration = TimeSpan.FromSeconds(double.Parse(value, CultureInfo.InvariantCulture)) },
                "--clients" => options with { Clients = int.Parse(value, CultureInfo.InvariantCulture) },
                "--runs" => options with { Runs = int.Parse(value, CultureInfo.InvariantCulture) },
                "--url" => options with { Url = new Uri(value) },
                "--node" => options with { Node = value },
                "--port" => options with { Port = int.Parse(value, CultureInfo.InvariantCulture) },
                "--tasks" => options with { Tasks = int.Parse(value, CultureInfo.InvariantCulture) },
                "--slots" => options with { Slots = value },
                _ => throw new ArgumentException($"unknown option {args[i]}"),
            };
        }

        return options;
    }
}
