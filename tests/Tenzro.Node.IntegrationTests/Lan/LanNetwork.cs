using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests.Lan;

/// <summary>
/// A LAN made for the tests, as <c>acceptance/lan-discovery</c> makes it: a switch namespace with a bridge
/// (10.77.0.254/24), and one namespace per node joined to it by a veth pair, so real multicast flows between node
/// processes and nothing reaches the host's interfaces. Node 4 has a second interface (eth1, 10.78.0.4/24) with
/// multicast off. Every node runs LAN discovery; the tests reach a node's API through <c>lan_helper.py</c> run
/// by <c>ip netns exec</c> in its namespace, over that namespace's loopback.
/// </summary>
/// <remarks>
/// Needs root (CI runs as root). Where the namespaces cannot be made, <see cref="SetupError"/> says why and every
/// test fails with it rather than passing silently. Shared by the tests of <see cref="LanDiscoveryProcessTests"/>;
/// a subclass picks its own namespace names and node count and starts its own processes.
/// </remarks>
public class LanNetwork : IAsyncLifetime
{
    public const int ApiPort = 18080;
    private readonly string _prefix;
    private readonly int _nodeCount;
    private readonly List<string> _namespaces = [];

    public LanNetwork()
        : this("it", 6)
    {
    }

    /// <param name="prefix">Short name part of this network's namespaces, so that two networks never share one.</param>
    /// <param name="nodeCount">Node namespaces on the bridge, addressed 10.77.0.1 upwards.</param>
    protected LanNetwork(string prefix, int nodeCount)
    {
        _prefix = prefix;
        _nodeCount = nodeCount;
    }

    public string Switch => Name("sw");

    /// <summary>The node namespaces, in address order.</summary>
    protected IReadOnlyList<string> Namespaces => _namespaces;

    public string? SetupError { get; private set; }

    public List<LanNode> Nodes { get; } = [];

    public static string Helper => Path.Combine(NodeProcess.RepositoryRoot(), "tests", "Tenzro.Node.IntegrationTests", "Lan", "lan_helper.py");

    public async Task InitializeAsync()
    {
        try
        {
            await MakeAsync();
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            SetupError = $"the LAN tests make network namespaces with `ip netns` and need root (CI runs as root) and iproute2 and python3-zeroconf installed: {e.Message}";
        }
    }

    public virtual async Task DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.Process.DisposeAsync();
        }

        foreach (var ns in _namespaces.Append(Switch))
        {
            await RunAsync("ip", ["netns", "del", ns], check: false);
        }
    }

    /// <summary>Fails the calling test with <see cref="SetupError"/> when the network could not be made.</summary>
    public void Require()
    {
        if (SetupError is not null)
        {
            Assert.Fail(SetupError);
        }
    }

    private async Task MakeAsync()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException("this test process is not root");
        }

        await RunAsync("/usr/bin/python3", ["-c", "import zeroconf"]);
        await RunAsync("ip", ["netns", "add", Switch]);
        await Ip(Switch, "link set lo up");
        await Ip(Switch, "link add br0 type bridge");
        await Ip(Switch, "link set br0 up");
        await Ip(Switch, "addr add 10.77.0.254/24 dev br0");
        for (var i = 1; i <= _nodeCount; i++)
        {
            var ns = Name(i.ToString(CultureInfo.InvariantCulture));
            await RunAsync("ip", ["netns", "add", ns]);
            _namespaces.Add(ns);
            await Ip(Switch, $"link add v{i} type veth peer name eth0 netns {ns}");
            await Ip(Switch, $"link set v{i} master br0 up");
            await Ip(ns, "link set lo up");
            await Ip(ns, $"addr add 10.77.0.{i}/24 dev eth0");
            await Ip(ns, "link set eth0 up");
        }

        await StartNodesAsync();
    }

    /// <summary>Starts the processes once the namespaces are up, and adds them to <see cref="Nodes"/>.</summary>
    protected virtual async Task StartNodesAsync()
    {
        // Node 4's second interface: up, addressed, but with multicast off, so no group can be used on it.
        await Ip(Switch, $"link add w4 type veth peer name eth1 netns {_namespaces[3]}");
        await Ip(Switch, "link set w4 up");
        await Ip(_namespaces[3], "addr add 10.78.0.4/24 dev eth1");
        await Ip(_namespaces[3], "link set eth1 multicast off");
        await Ip(_namespaces[3], "link set eth1 up");

        for (var i = 0; i < _nodeCount; i++)
        {
            var process = NodeProcess.LaunchUnder(["ip", "netns", "exec", _namespaces[i]], new Dictionary<string, string>
            {
                ["P2P_HOST"] = "0.0.0.0",
                ["LAN_DISCOVERY_ENABLED"] = "true",
                ["LOCAL_DISCOVERY_PORT"] = "8081",
                ["RECONNECT_INTERVAL"] = "500",
            }, port: ApiPort);
            Nodes.Add(new LanNode(_namespaces[i], $"10.77.0.{i + 1}", process));
        }

        foreach (var node in Nodes)
        {
            await node.WaitHealthyAsync(TimeSpan.FromSeconds(60));
        }
    }

    private string Name(string part) => $"tnz-{_prefix}{part}-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";

    protected static Task Ip(string ns, string arguments) => RunAsync("ip", ["-n", ns, .. arguments.Split(' ')]);

    /// <summary>Runs a command; returns its standard output, or throws with its error output when it fails and <paramref name="check"/> is set.</summary>
    public static async Task<string> RunAsync(string command, IEnumerable<string> arguments, bool check = true, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{command} did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{command} {string.Join(' ', start.ArgumentList)} did not end within {timeout ?? TimeSpan.FromSeconds(30)}");
        }

        if (check && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{command} {string.Join(' ', start.ArgumentList)} failed ({process.ExitCode}): {(await error).Trim()}");
        }

        return await output;
    }
}

/// <summary>A node process in its own namespace, reached through the helper.</summary>
public sealed class LanNode(string ns, string ip, NodeProcess process)
{
    private string? _id;

    public string Namespace { get; } = ns;

    public string Ip { get; } = ip;

    public NodeProcess Process { get; } = process;

    public async Task<string> IdAsync() => _id ??= (await GetAsync("/status"))!["nodeId"]!.GetValue<string>();

    /// <summary>GET on the node's API; null when it does not answer (stopped, killed).</summary>
    public async Task<JsonNode?> GetAsync(string path)
    {
        try
        {
            var body = await LanNetwork.RunAsync("ip", ["netns", "exec", Namespace, "/usr/bin/python3", LanNetwork.Helper, "get", $"http://127.0.0.1:{LanNetwork.ApiPort}{path}"]);
            return path == "/metrics" ? JsonValue.Create(body) : JsonNode.Parse(body);
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    public async Task<IReadOnlyList<JsonObject>> PeersAsync() =>
        (await GetAsync("/api/peers"))?["peers"]?.AsArray().OfType<JsonObject>().ToList() ?? [];

    public async Task WaitHealthyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Process.HasExited)
            {
                throw new InvalidOperationException($"the node in {Namespace} exited with {Process.ExitCode}: {Process.Output}");
            }

            if (await GetAsync("/health") is not null)
            {
                return;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"the node in {Namespace} was not healthy within {timeout}: {Process.Output}");
    }
}
