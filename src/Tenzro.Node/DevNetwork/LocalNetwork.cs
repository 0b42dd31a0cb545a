using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Identity;

namespace Tenzro.Node.DevNetwork;

/// <summary>What <c>dev-network</c> starts: how many nodes, where their data lives, what every node is given.</summary>
/// <param name="Nodes">Number of local nodes (1-32).</param>
/// <param name="RegionalPort">Port of the development regional node; 0 picks a free one.</param>
/// <param name="DataRoot">Folder that holds <c>node-1</c>, <c>node-2</c>, ...; kept after the stop.</param>
/// <param name="Settings">Settings every node gets (KEY=VALUE from <c>--set</c>), after the network's own.</param>
internal sealed record LocalNetworkOptions(int Nodes, int RegionalPort, string DataRoot, IReadOnlyList<KeyValuePair<string, string>> Settings);

/// <summary>One started node of a <see cref="LocalNetwork"/>.</summary>
internal sealed record LocalNode(int Number, string NodeId, Uri Url, int PeerPort, string DataDirectory, Process Process);

/// <summary>
/// A development network on one machine, as <c>nomad agent -dev</c> is a cluster on one: the development
/// regional node in this process and N <c>tenzro-node</c> processes on loopback, each with its own data
/// directory, HTTP port and peer port, none of them sending anything beyond 127.0.0.1 (LAN discovery and the
/// DHT are off). <see cref="StartAsync"/> reports each node as it becomes healthy; <see cref="DisposeAsync"/>
/// stops them all (SIGTERM, then a kill after 15 s) and the regional node. Each node is given PARENT_PID, so
/// that it also stops when this process is killed outright.
/// </summary>
/// <remarks>Not thread-safe: one caller starts and disposes it.</remarks>
internal sealed class LocalNetwork : IAsyncDisposable
{
    private static readonly TimeSpan HealthTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);
    private readonly List<LocalNode> _nodes = [];
    private readonly List<Task> _logPumps = [];

    private LocalNetwork(DevRegionalNode regional) => Regional = regional;

    public DevRegionalNode Regional { get; }

    /// <summary>The URL the nodes dial and <c>dev-network</c> prints.</summary>
    public Uri RegionalUrl => new($"ws://127.0.0.1:{Regional.Port}/ws");

    public IReadOnlyList<LocalNode> Nodes => _nodes;

    /// <summary>
    /// Starts the regional node, then every local node at once, and calls <paramref name="healthy"/> for node 1,
    /// 2, ... in order as each answers <c>/health</c>.
    /// </summary>
    /// <exception cref="LocalNetworkException">A node exited or stayed unhealthy; the message holds the end of its log.</exception>
    public static async Task<LocalNetwork> StartAsync(LocalNetworkOptions options, Action<Uri> regionalStarted, Action<LocalNode> healthy, CancellationToken cancellationToken)
    {
        var network = new LocalNetwork(await DevRegionalNode.StartAsync(port: options.RegionalPort));
        try
        {
            regionalStarted(network.RegionalUrl);
            var started = new List<(int Number, string NodeId, int PeerPort)>();
            for (var number = 1; number <= options.Nodes; number++)
            {
                var directory = Path.Combine(options.DataRoot, $"node-{number}");
                Directory.CreateDirectory(directory);

                // The node's identity is made here (the node loads the same key file), so that the nodes started
                // after it can be given its id before it answers.
                string nodeId;
                using (var identity = NodeIdentity.LoadOrCreate(Path.Combine(directory, "data"), null))
                {
                    nodeId = identity.NodeId;
                }

                var port = FreePort();
                var peerPort = FreePort();
                var environment = NodeEnvironment(network.RegionalUrl, port, peerPort, directory, PeerEntries(started.Select(s => (s.NodeId, s.PeerPort))));
                foreach (var (key, value) in options.Settings)
                {
                    environment[key] = value;
                }

                // Set last: the node ends with this process even when it is killed and cannot stop it.
                environment["PARENT_PID"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);

                var process = StartProcess(directory, environment, network._logPumps);
                network._nodes.Add(new LocalNode(number, nodeId, new Uri($"http://127.0.0.1:{port}"), peerPort, directory, process));
                started.Add((number, nodeId, peerPort));
            }

            foreach (var node in network._nodes)
            {
                await WaitHealthyAsync(node, cancellationToken);
                healthy(node);
            }

            return network;
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The <c>BOOTSTRAP_NODES</c> entries that link a node to the nodes started before it (CONTRACTS
    /// "Operations"): <c>tenzro://&lt;node id&gt;@127.0.0.1:&lt;peer port&gt;</c>, in start order.
    /// </summary>
    internal static IReadOnlyList<string> PeerEntries(IEnumerable<(string NodeId, int PeerPort)> earlier) =>
        [.. earlier.Select(node => $"tenzro://{node.NodeId}@127.0.0.1:{node.PeerPort.ToString(CultureInfo.InvariantCulture)}")];

    /// <summary>The settings that keep a development node on loopback and quick to start.</summary>
    internal static Dictionary<string, string> NodeEnvironment(Uri regionalUrl, int port, int peerPort, string directory, IReadOnlyList<string> peerEntries)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["HOST"] = "127.0.0.1",
            ["PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["DATA_DIR"] = Path.Combine(directory, "data"),
            ["REGIONAL_NODE_URL"] = regionalUrl.ToString(),
            ["LOCAL_DISCOVERY_PORT"] = peerPort.ToString(CultureInfo.InvariantCulture),
            ["P2P_HOST"] = "127.0.0.1",
            ["LAN_DISCOVERY_ENABLED"] = "false",
            ["DHT_ENABLED"] = "false",
            ["BENCHMARK_ON_START"] = "false",
            ["NODE_TIER"] = "training",
            ["MIN_CPU_CORES"] = "0",
            ["MIN_MEMORY_GB"] = "0",
            ["MIN_STORAGE_GB"] = "0",
            ["HEARTBEAT_INTERVAL"] = "5000",
            ["RECONNECT_INTERVAL"] = "500",
            ["RECONNECT_MAX_INTERVAL"] = "5000",
        };
        if (peerEntries.Count > 0)
        {
            environment["BOOTSTRAP_NODES"] = string.Join(',', peerEntries);
        }

        return environment;
    }

    /// <summary>
    /// How to start this same program again: <c>dotnet tenzro-node.dll</c> when it runs under the
    /// <c>dotnet</c> host, else its own executable (the tool's command, a single-file binary).
    /// </summary>
    internal static ProcessStartInfo SelfStartInfo()
    {
        var host = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(host) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            start.ArgumentList.Add(typeof(LocalNetwork).Assembly.Location);
        }

        return start;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes.Where(n => !n.Process.HasExited))
        {
            _ = SendTerminate(node.Process.Id);
        }

        foreach (var node in _nodes)
        {
            using var timeout = new CancellationTokenSource(StopTimeout);
            try
            {
                await node.Process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                node.Process.Kill(entireProcessTree: true);
                await node.Process.WaitForExitAsync(CancellationToken.None);
            }

            node.Process.Dispose();
        }

        await Task.WhenAll(_logPumps);
        await Regional.DisposeAsync();
    }

    private static Process StartProcess(string directory, Dictionary<string, string> environment, List<Task> logPumps)
    {
        var start = SelfStartInfo();
        start.ArgumentList.Add("run");
        start.WorkingDirectory = directory;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new LocalNetworkException($"{start.FileName} did not start");
        logPumps.Add(CopyOutputAsync(process, Path.Combine(directory, "node.log")));
        return process;
    }

    /// <summary>Appends the node's standard output and error to its <c>node.log</c> until it exits.</summary>
    private static async Task CopyOutputAsync(Process process, string path)
    {
        await using var log = new StreamWriter(path, append: true) { AutoFlush = true };
        var synchronized = TextWriter.Synchronized(log);
        await Task.WhenAll(Pump(process.StandardOutput, synchronized), Pump(process.StandardError, synchronized));
    }

    private static async Task Pump(StreamReader reader, TextWriter log)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            await log.WriteLineAsync(line);
        }
    }

    private static async Task WaitHealthyAsync(LocalNode node, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = node.Url, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + HealthTimeout;
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (node.Process.HasExited)
            {
                throw new LocalNetworkException($"node {node.Number} exited with {node.Process.ExitCode}: {LogTail(node)}");
            }

            try
            {
                using var response = await http.GetAsync("/health", cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            await Task.Delay(100, cancellationToken);
        }

        throw new LocalNetworkException($"node {node.Number} was not healthy within {HealthTimeout.TotalSeconds} s: {LogTail(node)}");
    }

    private static string LogTail(LocalNode node)
    {
        var path = Path.Combine(node.DataDirectory, "node.log");
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var lines = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return string.Join(" | ", lines.TakeLast(3)) + $" (log: {path})";
        }
        catch (IOException)
        {
            return $"see {path}";
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static int SendTerminate(int pid) => OperatingSystem.IsWindows() ? -1 : Kill(pid, 15);

    // DllImport rather than LibraryImport: kill(2) takes two ints, nothing to marshal, and the project allows no unsafe code.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

/// <summary>The development network could not be started.</summary>
internal sealed class LocalNetworkException(string message) : Exception(message);
