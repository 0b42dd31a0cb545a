using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tenzro.Node.IntegrationTests;

/// <summary>
/// The built <c>tenzro-node</c> executable run as a separate process on a free loopback port, with short
/// intervals and hardware minimums off. Output is captured for assertions and failure messages.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private HttpClient? _admin;

    private NodeProcess(Process process, int port, string dataDirectory)
    {
        _process = process;
        Port = port;
        DataDirectory = dataDirectory;
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Port { get; }

    public string DataDirectory { get; }

    public Uri BaseAddress { get; }

    /// <summary>A keyless loopback client: the anonymous submitter.</summary>
    public HttpClient Client { get; }

    /// <summary>A client with the admin token of DATA_DIR/admin.token (written before the node listens), as the CLI sends it.</summary>
    public HttpClient Admin => _admin ??= AdminClient();

    public int Pid => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>A figure of <c>/proc/PID/status</c> in kB (<c>VmRSS:</c>, <c>VmHWM:</c>), 0 once the process has gone.</summary>
    public static long StatusKB(int pid, string field)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line[field.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    public int ExitCode => _process.ExitCode;

    /// <summary>The checkout these tests were built in: the folder that holds Tenzro.Node.slnx.</summary>
    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Tenzro.Node.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new DirectoryNotFoundException($"no Tenzro.Node.slnx above {AppContext.BaseDirectory}");
    }

    /// <summary>Path of the built executable of the same configuration as these tests.</summary>
    public static string DllPath()
    {
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        var path = Path.Combine(RepositoryRoot(), "src", "Tenzro.Node", "bin", configuration, "net10.0", "tenzro-node.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("Build the solution first", path);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string NewDirectory() => Directory.CreateTempSubdirectory("tenzro-it-").FullName;

    /// <summary>Starts the process without waiting for it to be healthy.</summary>
    public static NodeProcess Launch(IDictionary<string, string>? environment = null, string? dataDirectory = null, int? port = null, params string[] arguments) =>
        LaunchUnder([], environment, dataDirectory, port, arguments);

    /// <summary>
    /// Starts the process as the last argument of <paramref name="wrapper"/> (a command such as <c>unshare</c> that
    /// execs what follows it, so <see cref="Pid"/> is the node's), without waiting for it to be healthy.
    /// </summary>
    public static NodeProcess LaunchUnder(string[] wrapper, IDictionary<string, string>? environment = null, string? dataDirectory = null, int? port = null, params string[] arguments)
    {
        dataDirectory ??= NewDirectory();
        var chosenPort = port ?? FreePort();
        var start = new ProcessStartInfo(wrapper.Length > 0 ? wrapper[0] : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = dataDirectory,
        };
        if (wrapper.Length > 0)
        {
            foreach (var part in wrapper.Skip(1).Append("dotnet"))
            {
                start.ArgumentList.Add(part);
            }
        }

        start.ArgumentList.Add(DllPath());
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["PORT"] = chosenPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["DATA_DIR"] = Path.Combine(dataDirectory, "data");
        start.Environment["BENCHMARK_ON_START"] = "false";
        start.Environment["MIN_CPU_CORES"] = "0";
        start.Environment["MIN_MEMORY_GB"] = "0";
        start.Environment["MIN_STORAGE_GB"] = "0";
        start.Environment["METRICS_UPDATE_INTERVAL"] = "200";
        start.Environment["HEALTH_CHECK_INTERVAL"] = "200";
        start.Environment["LOCAL_DISCOVERY_PORT"] = "0";
        start.Environment["RAFT_PORT"] = "0";
        start.Environment["P2P_HOST"] = "127.0.0.1";
        start.Environment["LAN_DISCOVERY_ENABLED"] = "false";
        start.Environment["DHT_ENABLED"] = "false";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        return new NodeProcess(process, chosenPort, dataDirectory);
    }

    /// <summary>Starts the node and waits until <c>/health</c> answers 200.</summary>
    public static async Task<NodeProcess> StartAsync(IDictionary<string, string>? environment = null, string? dataDirectory = null, int? port = null)
    {
        var node = Launch(environment, dataDirectory, port);
        await node.WaitHealthyAsync(TimeSpan.FromSeconds(60));
        return node;
    }

    public async Task WaitHealthyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"tenzro-node exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                using var response = await Client.GetAsync("/health");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"tenzro-node was not healthy within {timeout}:\n{Output}");
    }

    /// <summary>Sends a signal (SIGTERM 15, SIGKILL 9) with the system's kill command.</summary>
    public async Task SignalAsync(int signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill!.WaitForExitAsync();
    }

    /// <summary>SIGKILL now, without starting a kill command: for tests that must hit a moment a few milliseconds wide.</summary>
    public void KillNow() => _process.Kill();

    /// <summary>Waits for the process to exit; returns false if it is still running after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private HttpClient AdminClient()
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var token = File.ReadAllText(Path.Combine(DataDirectory, "data", "admin.token")).Trim();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        _admin?.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
