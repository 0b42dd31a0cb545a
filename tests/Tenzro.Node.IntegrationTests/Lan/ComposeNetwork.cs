using System.Globalization;

namespace Tenzro.Node.IntegrationTests.Lan;

/// <summary>
/// The <c>network</c> profile of <c>docker-compose.yml</c> without Docker: its regional node runs in the switch
/// namespace of a <see cref="LanNetwork"/> (bridge address 10.77.0.254, standing for the compose host name
/// <c>regional</c>) with the service's own <c>command</c>, and each of its local nodes runs in a namespace on the
/// bridge with the service's own <c>environment</c>, read from the file, so the test follows the file.
/// </summary>
/// <remarks>
/// What a container adds is given as the image gives it: the peer-link, DHT and group-log settings at their
/// defaults on every address of the namespace. The service's <c>cpus</c> and <c>mem_limit</c> are not applied (no
/// cgroup is made), so the minimum CPU and memory checks are off as for every test node; its MIN_STORAGE_GB holds. The API stays on the namespace's loopback without an API key, as in
/// <see cref="LanNetwork"/>, so the file's <c>${API_KEY:?…}</c> entry is left out.
/// </remarks>
public sealed class ComposeNetwork : LanNetwork
{
    public const string Profile = "network";
    public const string RegionalService = "regional";
    public const string RegionalAddress = "10.77.0.254";
    private static readonly ComposeFile File = ComposeFile.Read(ComposeFile.DefaultPath);

    public ComposeNetwork()
        : base("cn", NodeServices.Count)
    {
    }

    /// <summary>The profile's services other than the regional node (node-1, node-2, …).</summary>
    public static IReadOnlyList<string> NodeServices => [.. File.ServicesIn(Profile).Where(s => s != RegionalService)];

    public static IReadOnlyList<string> RegionalCommand => File.Command(RegionalService);

    public static int RegionalPort => int.Parse(RegionalCommand[RegionalCommand.ToList().IndexOf("--port") + 1], CultureInfo.InvariantCulture);

    public NodeProcess? Regional { get; private set; }

    /// <summary>A service's environment as the test runs it: compose variables left out, <c>regional</c> replaced by its address.</summary>
    public static Dictionary<string, string> EnvironmentOf(string service) =>
        File.Environment(service)
            .Where(e => !e.Value.Contains("${", StringComparison.Ordinal))
            .ToDictionary(e => e.Key, e => e.Value.Replace($"//{RegionalService}:", $"//{RegionalAddress}:", StringComparison.Ordinal));

    /// <summary>GET on the regional node's API from the switch namespace; null when it does not answer.</summary>
    public async Task<System.Text.Json.Nodes.JsonNode?> RegionalGetAsync(string path)
    {
        try
        {
            var body = await RunAsync("ip", ["netns", "exec", Switch, "/usr/bin/python3", Helper, "get", $"http://127.0.0.1:{RegionalPort}{path}"]);
            return System.Text.Json.Nodes.JsonNode.Parse(body);
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    public override async Task DisposeAsync()
    {
        if (Regional is not null)
        {
            await Regional.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    protected override async Task StartNodesAsync()
    {
        Regional = NodeProcess.LaunchUnder(["ip", "netns", "exec", Switch], arguments: [.. RegionalCommand]);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (await RegionalGetAsync("/health") is null)
        {
            if (Regional.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"the regional node ({string.Join(' ', RegionalCommand)}) did not answer on {RegionalAddress}:{RegionalPort}: {Regional.Output}");
            }

            await Task.Delay(200);
        }

        for (var i = 0; i < NodeServices.Count; i++)
        {
            var environment = new Dictionary<string, string>
            {
                ["P2P_HOST"] = "0.0.0.0",
                ["LOCAL_DISCOVERY_PORT"] = "8081",
                ["RAFT_PORT"] = "8082",
                ["DHT_ENABLED"] = "true",

                // Not in the compose file (default 15 s): node_status every second, so the leader's report comes quickly.
                ["HEARTBEAT_INTERVAL"] = "1000",
            };
            foreach (var (key, value) in EnvironmentOf(NodeServices[i]))
            {
                environment[key] = value;
            }

            var process = NodeProcess.LaunchUnder(["ip", "netns", "exec", Namespaces[i]], environment, port: ApiPort);
            Nodes.Add(new LanNode(Namespaces[i], $"10.77.0.{i + 1}", process));
        }

        foreach (var node in Nodes)
        {
            await node.WaitHealthyAsync(TimeSpan.FromSeconds(60));
        }
    }
}
