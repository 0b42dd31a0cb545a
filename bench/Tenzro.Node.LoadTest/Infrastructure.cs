using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using HdrHistogram;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.LoadTest;

/// <summary>One run's figures: the node's value, the baseline's, and lines of detail.</summary>
internal sealed record ScenarioResult(string Metric, double Value, string Unit, string? BaselineName, double? Baseline, bool Ok, IReadOnlyList<string> Details)
{
    /// <summary>Node ÷ baseline for throughputs; baseline ÷ node is not used, so read "ratio" as node relative to baseline.</summary>
    public double? Ratio => Baseline is > 0 ? Value / Baseline : null;

    public static void PrintSummary(string scenario, IReadOnlyList<ScenarioResult> results)
    {
        static double Median(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }

        var first = results[0];
        foreach (var detail in results.SelectMany((r, i) => r.Details.Select(d => $"  run {i + 1}: {d}")))
        {
            Console.WriteLine(detail);
        }

        var values = results.Select(r => r.Value).ToArray();
        var ratios = results.Where(r => r.Ratio is not null).Select(r => r.Ratio!.Value).ToArray();
        var line = $"{scenario}: {Format(Median(values))} {first.Unit} {first.Metric} (median of {values.Length}, min {Format(values.Min())}, max {Format(values.Max())})";
        if (ratios.Length > 0)
        {
            line += $" ({Median(ratios).ToString("F2", CultureInfo.InvariantCulture)}x {first.BaselineName}, baseline median {Format(Median(results.Select(r => r.Baseline!.Value)))} {first.Unit})";
        }

        Console.WriteLine(line);
    }

    public static string Format(double value) => value >= 100 ? value.ToString("F0", CultureInfo.InvariantCulture) : value.ToString("G4", CultureInfo.InvariantCulture);
}

/// <summary>Latency recorder with HdrHistogram (microsecond resolution).</summary>
internal sealed class Latencies
{
    private readonly LongHistogram _histogram = new(TimeStamp.Hours(1), 3);
    private readonly Lock _lock = new();

    public long Count => _histogram.TotalCount;

    /// <summary>CPU seconds the measured node and its workers used while these latencies were recorded; null when not measured.</summary>
    public double? NodeCpuSeconds { get; set; }

    /// <summary>The node's CPU time per recorded operation, in µs; null when not measured.</summary>
    public double? NodeCpuMicrosPerOperation => NodeCpuSeconds is { } cpu && Count > 0 ? cpu * 1e6 / Count : null;

    public void Record(long startTimestamp)
    {
        var micros = (long)Stopwatch.GetElapsedTime(startTimestamp).TotalMicroseconds;
        lock (_lock)
        {
            _histogram.RecordValue(Math.Max(1, micros));
        }
    }

    public double PercentileMicros(double percentile)
    {
        lock (_lock)
        {
            return _histogram.GetValueAtPercentile(percentile);
        }
    }

    public string Describe() =>
        $"p50 {PercentileMicros(50)} µs, p90 {PercentileMicros(90)} µs, p99 {PercentileMicros(99)} µs, max {PercentileMicros(100)} µs, n={Count}";
}

/// <summary>Runs N concurrent clients for a bounded time, each calling an operation in a loop.</summary>
internal static class LoadDriver
{
    /// <summary>The most a warm-up waits for the node's runtime to stop recompiling.</summary>
    private static readonly TimeSpan MaxSettle = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The least a settling warm-up lasts: the runtime recompiles a method only after enough calls and a short delay, so
    /// a quiet compiler in the first seconds does not mean it has finished.
    /// </summary>
    private static readonly TimeSpan MinSettle = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Returns operations per second and the latency distribution; prints progress to stderr. The operation runs untimed
    /// for <paramref name="warmup"/> (1 s) first and, with <paramref name="settle"/>, on in 1 s slices (at least 5 s) until
    /// the node's runtime has stopped recompiling hot code (its tiered-compilation threads used at most 2 % of its CPU in
    /// the last slice; at most a minute): a node that has run for a while is measured, not one still compiling.
    /// </summary>
    public static async Task<(double PerSecond, Latencies Latencies)> RunAsync(int clients, TimeSpan duration, Func<CancellationToken, Task> operation, TimeSpan? warmup = null, ChildProcess? settle = null)
    {
        var warmStarted = Stopwatch.GetTimestamp();
        using (var warm = new CancellationTokenSource(warmup ?? TimeSpan.FromSeconds(1)))
        {
            await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Loop(operation, null, warm.Token)));
        }

        if (settle is not null)
        {
            double share;
            do
            {
                var (jit, cpu) = (settle.TieredCompilationTime(), settle.FamilyCpuTime());
                using var slice = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Loop(operation, null, slice.Token)));
                share = (settle.TieredCompilationTime() - jit) / Math.Max(settle.FamilyCpuTime() - cpu, 0.01);
            }
            while ((share > 0.02 || Stopwatch.GetElapsedTime(warmStarted) < MinSettle) && Stopwatch.GetElapsedTime(warmStarted) < MaxSettle);
            Console.Error.WriteLine($"  warm-up {Stopwatch.GetElapsedTime(warmStarted).TotalSeconds:F0} s; tiered compilation {share:P1} of the CPU of the node and its workers in the last second");
        }

        var latencies = new Latencies();
        var cpuBefore = settle?.FamilyCpuTime();
        using var stop = new CancellationTokenSource(duration);
        var started = Stopwatch.GetTimestamp();
        var progress = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(1000, CancellationToken.None);
                Console.Error.Write($"\r  {Stopwatch.GetElapsedTime(started).TotalSeconds:F0}/{duration.TotalSeconds:F0} s, {latencies.Count} done   ");
            }

            Console.Error.WriteLine();
        });
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Loop(operation, latencies, stop.Token)));
        var elapsed = Stopwatch.GetElapsedTime(started);
        latencies.NodeCpuSeconds = settle?.FamilyCpuTime() - cpuBefore;
        await progress;
        return (latencies.Count / elapsed.TotalSeconds, latencies);
    }

    private static async Task Loop(Func<CancellationToken, Task> operation, Latencies? latencies, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var start = Stopwatch.GetTimestamp();
            try
            {
                await operation(CancellationToken.None);
            }
            catch (HttpRequestException) when (stop.IsCancellationRequested)
            {
                return;
            }

            latencies?.Record(start);
        }
    }
}

/// <summary>Starts processes (the node, the baseline server) on free loopback ports and stops them.</summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ChildProcess(Process process, Uri url)
    {
        _process = process;
        Url = url;
    }

    public Uri Url { get; }

    public int Pid => _process.Id;

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Tenzro.Node.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("run from inside the repository");
    }

    public static string NodeDll() => Path.Combine(RepositoryRoot(), "src", "Tenzro.Node", "bin", "Release", "net10.0", "tenzro-node.dll");

    /// <summary>
    /// Starts the node with benchmarks off, a fresh data directory and the given settings: the build output, or
    /// <paramref name="node"/> (--node: a tenzro-node.dll, such as a published one, or the apphost beside it).
    /// </summary>
    public static ChildProcess StartNode(IDictionary<string, string>? settings = null, string? node = null)
    {
        var port = FreePort();
        var data = Directory.CreateTempSubdirectory("tenzro-load-").FullName;
        // A relative --node is taken from the working directory, else from the repository root (dotnet run may start
        // the load generator elsewhere).
        var path = node is null ? NodeDll() : File.Exists(node) ? Path.GetFullPath(node) : Path.Combine(RepositoryRoot(), node);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"--node {node}: no such file (give a tenzro-node.dll or the apphost beside it)", path);
        }

        var dll = path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
        var start = new ProcessStartInfo(dll ? "dotnet" : path) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = data };
        if (dll)
        {
            start.ArgumentList.Add(path);
        }

        start.Environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
        start.Environment["DATA_DIR"] = Path.Combine(data, "data");
        start.Environment["BENCHMARK_ON_START"] = "false";
        start.Environment["MIN_CPU_CORES"] = "0";
        start.Environment["MIN_MEMORY_GB"] = "0";
        start.Environment["MIN_STORAGE_GB"] = "0";
        start.Environment["LOG_LEVEL"] = "warning";
        start.Environment["MAX_QUEUED_TASKS"] = "10000000";

        // Nothing of the benchmark leaves this machine: no LAN discovery, no DHT, peer links on loopback only.
        start.Environment["LAN_DISCOVERY_ENABLED"] = "false";
        start.Environment["DHT_ENABLED"] = "false";
        start.Environment["P2P_HOST"] = "127.0.0.1";
        // A free port for the peer-link listener: 8081 may be another node's on this host, and a node that cannot bind
        // it starts without its listener (and without making its certificate), which is not the start measured.
        start.Environment["LOCAL_DISCOVERY_PORT"] = "0";
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        return Start(start, port);
    }

    /// <summary>Starts this program in a helper mode ("baseline-server", "noop").</summary>
    public static ChildProcess StartSelf(string mode)
    {
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        start.ArgumentList.Add(mode);
        start.ArgumentList.Add("--port");
        start.ArgumentList.Add(port.ToString(CultureInfo.InvariantCulture));
        return Start(start, port);
    }

    private static ChildProcess Start(ProcessStartInfo start, int port)
    {
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ChildProcess(process, new Uri($"http://127.0.0.1:{port}"));
    }

    /// <summary>Waits until GET /health answers 200; returns the time it took from <paramref name="since"/>.</summary>
    public async Task<TimeSpan> WaitHealthyAsync(long since, TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"process exited with {_process.ExitCode}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(Url, "/health"));
                if (response.IsSuccessStatusCode)
                {
                    return Stopwatch.GetElapsedTime(since);
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(5);
        }

        throw new TimeoutException("not healthy in time");
    }

    public async Task<int> WaitForExitAsync()
    {
        await _process.WaitForExitAsync();
        return _process.ExitCode;
    }

    /// <summary>Resident memory (VmRSS) of the process, in bytes.</summary>
    public long ResidentBytes() =>
        File.ReadAllLines($"/proc/{Pid}/status").Where(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
            .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024).First();

    private readonly Dictionary<string, double> _compilerThreads = [];

    /// <summary>
    /// CPU seconds of the tiered-compilation threads (the runtime compiling hot code again at a higher tier) of the process
    /// and of its children (the node's runtime workers), those that have exited included: the runtime ends the thread
    /// when it has nothing to compile.
    /// </summary>
    public double TieredCompilationTime()
    {
        foreach (var task in Family().SelectMany(Tasks))
        {
            try
            {
                var stat = File.ReadAllBytes(Path.Combine(task, "stat"));
                var open = stat.AsSpan().IndexOf((byte)'(');
                var close = stat.AsSpan().LastIndexOf((byte)')');
                if (stat.AsSpan(open + 1, close - open - 1).StartsWith(".NET Tiered"u8) && ThreadCpu.CpuTicks(stat) is { } ticks)
                {
                    _compilerThreads[task] = ThreadCpu.FromTicks(ticks).TotalSeconds;
                }
            }
            catch (IOException)
            {
                // The thread ended while it was read.
            }
        }

        return _compilerThreads.Values.Sum();
    }

    /// <summary>User + system CPU seconds of the process and of its children (the node's runtime workers) now.</summary>
    public double FamilyCpuTime() => Family().Sum(pid => StatTicks(pid) is { } ticks ? ThreadCpu.FromTicks(ticks).TotalSeconds : 0);

    /// <summary>The process and its children.</summary>
    private List<int> Family()
    {
        List<int> family = [Pid];
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), CultureInfo.InvariantCulture, out var pid) && pid != Pid && ParentOf(pid) == Pid)
            {
                family.Add(pid);
            }
        }

        return family;
    }

    private static IEnumerable<string> Tasks(int pid)
    {
        try
        {
            return [.. Directory.EnumerateDirectories($"/proc/{pid}/task")];
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
    }

    /// <summary>The parent's pid: field 4 of /proc/PID/stat (the second after the command name), or null once the process has ended.</summary>
    private static int? ParentOf(int pid) => Stat(pid) is { } stat
        ? int.Parse(Encoding.ASCII.GetString(stat).Split(')')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture)
        : null;

    private static long? StatTicks(int pid) => Stat(pid) is { } stat ? ThreadCpu.CpuTicks(stat) : null;

    /// <summary>/proc/PID/stat, or null once the process has ended.</summary>
    private static byte[]? Stat(int pid)
    {
        try
        {
            return File.ReadAllBytes($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>User + system CPU time of the process, from /proc/PID/stat.</summary>
    public TimeSpan CpuTime() =>
        ThreadCpu.FromTicks(StatTicks(Pid) ?? throw new InvalidOperationException($"process {Pid} has ended: no CPU time to read"));

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
