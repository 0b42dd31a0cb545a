using Microsoft.Extensions.Configuration;
using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Tests.Configuration;

[Trait("Suite", "config")]
public sealed class NodeSettingsTests
{
    private static NodeSettings Load(params (string Key, string Value)[] values) =>
        NodeSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build(), "/base");

    [Fact]
    public void Load_NoSettings_UsesContractDefaults()
    {
        var settings = Load();

        Assert.Equal(8080, settings.Http.Port);
        Assert.Equal("127.0.0.1", settings.Http.Host);
        Assert.Equal("/base/data", settings.Storage.DataDirectory);
        Assert.Equal("individual", settings.Node.NodeType);
        Assert.Equal("inference", settings.Node.NodeTier);
        Assert.Equal("us-east", settings.Node.Region);
        Assert.Equal(0, settings.Node.TokenBalance);
        Assert.Null(settings.Network.EffectiveRegionalUrl);
        Assert.Empty(settings.Network.BootstrapNodes);
        Assert.Equal(TimeSpan.FromSeconds(15), settings.Network.HeartbeatInterval);
        Assert.Equal(TimeSpan.FromSeconds(5), settings.Network.ReconnectInterval);
        Assert.Equal(TimeSpan.FromSeconds(60), settings.Network.ReconnectMaxInterval);
        Assert.Equal(5, settings.Network.MaxReconnectAttempts);
        Assert.Equal(8081, settings.Network.LocalDiscoveryPort);
        Assert.Equal(3, settings.Aggregation.Threshold);
        Assert.Equal(TimeSpan.FromSeconds(60), settings.Aggregation.Timeout);
        Assert.Equal("aggregator", settings.Aggregation.MinTier);
        Assert.Equal(TimeSpan.FromMinutes(5), settings.Hardware.ProfileUpdateInterval);
        Assert.Equal(TimeSpan.FromSeconds(15), settings.Monitoring.MetricsUpdateInterval);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.Monitoring.HealthCheckInterval);
        Assert.Null(settings.Tasks.MaxConcurrentTasks);
        Assert.Equal(TimeSpan.FromSeconds(1800), settings.Tasks.TaskTimeout);
        Assert.Equal(TimeSpan.FromSeconds(86400), settings.Tasks.ResultRetentionPeriod);
        Assert.Equal(16_777_216, settings.Http.MaxRequestSize);
        Assert.Equal(16_777_216, settings.Network.MaxMessageSize);
        Assert.Equal(100_000, settings.Tasks.MaxQueuedTasks);
        Assert.True(settings.Hardware.BenchmarkOnStart);
    }

    [Theory]
    [InlineData("auto", null)]
    [InlineData("AUTO", null)]
    [InlineData("7", 7)]
    public void Load_MaxConcurrentTasks_AutoOrANumber(string value, int? expected)
    {
        var settings = Load(("MAX_CONCURRENT_TASKS", value));

        Assert.Equal(expected, settings.Tasks.MaxConcurrentTasks);
    }

    [Fact]
    public void Load_SeedUnits_IntervalsAreMillisecondsAndTimeoutsSeconds()
    {
        var settings = Load(("HEARTBEAT_INTERVAL", "250"), ("TASK_TIMEOUT", "90"), ("RESULT_RETENTION_PERIOD", "60"));

        Assert.Equal(TimeSpan.FromMilliseconds(250), settings.Network.HeartbeatInterval);
        Assert.Equal(TimeSpan.FromSeconds(90), settings.Tasks.TaskTimeout);
        Assert.Equal(TimeSpan.FromSeconds(60), settings.Tasks.ResultRetentionPeriod);
    }

    [Fact]
    public void Load_SeveralBadValues_ReportsEveryKeyWithValueAndExpectation()
    {
        var error = Assert.Throws<ConfigurationException>(() => Load(
            ("NODE_TIER", "gold"), ("MAX_CONCURRENT_TASKS", "-1"), ("PORT", "abc"), ("BOOTSTRAP_NODES", "not-a-url")));

        Assert.Equal(78, ConfigurationException.ExitCode);
        Assert.Equal(["BOOTSTRAP_NODES", "MAX_CONCURRENT_TASKS", "NODE_TIER", "PORT"], error.Errors.Select(e => e.Key).Order(StringComparer.Ordinal));
        Assert.Contains("NODE_TIER: 'gold' is not valid; expected one of inference, aggregator, training, feedback", error.Message);
        Assert.Contains("MAX_CONCURRENT_TASKS: '-1'", error.Message);
        Assert.Contains("PORT: 'abc'", error.Message);
        Assert.Contains("BOOTSTRAP_NODES: 'not-a-url'", error.Message);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("init")]
    public void Load_BadParentPid_NamesTheKeyAndWhatIsExpected(string value)
    {
        var error = Assert.Throws<ConfigurationException>(() => Load(("PARENT_PID", value)));

        Assert.Contains($"PARENT_PID: '{value}'", error.Message);
        Assert.Contains("empty, or an integer from 1 to 2147483647", error.Message);
    }

    [Fact]
    public void Load_ParentPid_IsTheProcessToWatchAndUnsetByDefault()
    {
        Assert.Equal(4242, Load(("PARENT_PID", "4242")).Node.ParentProcessId);
        Assert.Null(Load().Node.ParentProcessId);
    }

    [Theory]
    [InlineData("regional_node", "regional node program")]
    [InlineData("global_node", "global node program")]
    [InlineData("supernode", "one of individual")]
    public void Load_NodeTypeOtherThanIndividual_IsAnErrorThatSaysWhy(string value, string expected)
    {
        var error = Assert.Throws<ConfigurationException>(() => Load(("NODE_TYPE", value)));

        Assert.Contains("NODE_TYPE", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Load_RegionalUrl_FallsBackToFirstBootstrapNode()
    {
        var settings = Load(("BOOTSTRAP_NODES", "wss://a.example/ws, ws://127.0.0.1:9000"));

        Assert.Equal(new Uri("wss://a.example/ws"), settings.Network.EffectiveRegionalUrl);
        Assert.Equal(2, settings.Network.BootstrapNodes.Count);
    }

    [Fact]
    public void BuildConfiguration_Precedence_CommandLineOverEnvironmentOverEnvFileOverDefaults()
    {
        var directory = Directory.CreateTempSubdirectory("tenzro-config").FullName;
        var envFile = Path.Combine(directory, ".env");
        File.WriteAllText(envFile, "PORT=7001\nREGION=eu-west\nNODE_TIER=aggregator\nTOKEN_BALANCE=5\n");

        var configuration = NodeSettings.BuildConfiguration(
            commandLine: [new("PORT", "7003")],
            environment: [new("PORT", "7002"), new("REGION", "ap-south"), new("UNRELATED", "x")],
            envFile: envFile);
        var settings = NodeSettings.Load(configuration, directory);

        Assert.Equal(7003, settings.Http.Port);
        Assert.Equal("ap-south", settings.Node.Region);
        Assert.Equal("aggregator", settings.Node.NodeTier);
        Assert.Equal(5, settings.Node.TokenBalance);
        Assert.Equal(8081, settings.Network.LocalDiscoveryPort);
        Directory.Delete(directory, true);
    }

    [Fact]
    public void BuildConfiguration_MissingEnvFile_IsNotAnError()
    {
        var configuration = NodeSettings.BuildConfiguration([], [], "/nonexistent/.env");

        Assert.Equal(8080, NodeSettings.Load(configuration).Http.Port);
    }

    [Fact]
    public void EnvExample_ListsEveryKeyWithItsDefault()
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryRoot(), ".env.example"));

        foreach (var setting in SettingCatalog.All)
        {
            Assert.Contains($"{setting.Key}={setting.Default}", lines);
        }
    }

    [Fact]
    public void ConfigurationDoc_DocumentsEveryKey()
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "CONFIGURATION.md"));

        foreach (var setting in SettingCatalog.All)
        {
            Assert.Contains($"`{setting.Key}`", doc);
        }
    }

    [Fact]
    public void Load_PeerLinkTimings_DefaultToTheContractAndRefuseADeadLinkTimeoutNotAboveThePingInterval()
    {
        var defaults = Load().Network;
        var set = Load(("PEER_PING_INTERVAL", "200"), ("PEER_DEAD_LINK_TIMEOUT", "1500"), ("PEER_HELLO_TIMEOUT", "2000")).Network;
        var error = Assert.Throws<ConfigurationException>(() => Load(("PEER_PING_INTERVAL", "5000"), ("PEER_DEAD_LINK_TIMEOUT", "5000")));

        Assert.Equal((15, 45, 10), (defaults.PeerPingInterval.TotalSeconds, defaults.PeerDeadLinkTimeout.TotalSeconds, defaults.PeerHelloTimeout.TotalSeconds));
        Assert.Equal((200, 1500, 2000), (set.PeerPingInterval.TotalMilliseconds, set.PeerDeadLinkTimeout.TotalMilliseconds, set.PeerHelloTimeout.TotalMilliseconds));
        Assert.Contains("PEER_DEAD_LINK_TIMEOUT: '5000'", error.Message);
        Assert.Contains("more than PEER_PING_INTERVAL (5000)", error.Message);
    }

    [Fact]
    public void Load_BootstrapNodes_SplitsRegionalPeerAndDhtEntries()
    {
        var id = new string('a', 64);
        var settings = Load(("BOOTSTRAP_NODES", $"tenzro://{id}@127.0.0.1:9001, ws://127.0.0.1:7000/ws, udp://127.0.0.1:9002, tenzro://{id}@[::1]:9003"));

        Assert.Equal(new Uri("ws://127.0.0.1:7000/ws"), settings.Network.EffectiveRegionalUrl);
        Assert.Equal([new PeerAddress(id, "127.0.0.1", 9001), new PeerAddress(id, "::1", 9003)], settings.Network.BootstrapPeers);
        Assert.Equal([new DnsEndPointText("127.0.0.1", 9002)], settings.Network.DhtContacts);
        Assert.True(settings.Network.LanDiscoveryEnabled);
    }

    [Fact]
    public void Load_OnlyPeerEntries_NeverTakesOneForTheRegionalNode()
    {
        var settings = Load(("BOOTSTRAP_NODES", $"tenzro://{new string('b', 64)}@127.0.0.1:9001"));

        Assert.Null(settings.Network.EffectiveRegionalUrl);
        Assert.Single(settings.Network.BootstrapPeers);
    }

    [Fact]
    public void Load_PeerLinkDefaults_MatchTheContract()
    {
        var settings = Load();

        Assert.Equal("0.0.0.0", settings.Network.P2pHost);
        Assert.Equal(32, settings.Network.MaxPeerLinks);
        Assert.Equal(8082, settings.Network.RaftPort);
        Assert.Null(settings.Network.AdvertiseAddress);
        Assert.Equal("auto", settings.Network.LanDiscovery);
        Assert.False(settings.Network.LanDiscoveryEnabled);
    }

    [Theory]
    [InlineData("BOOTSTRAP_NODES", "tenzro://abc@127.0.0.1:9001", "tenzro://<64 hex node id>@host:port")]
    [InlineData("BOOTSTRAP_NODES", "http://127.0.0.1:9001", "ws:// or wss://")]
    [InlineData("P2P_HOST", "localhost", "an IP address")]
    [InlineData("MAX_PEER_LINKS", "0", "an integer from 1 to 4096")]
    [InlineData("RAFT_PORT", "70000", "an integer from 0 to 65535")]
    [InlineData("LAN_DISCOVERY_ENABLED", "sometimes", "one of auto, true, false")]
    [InlineData("ADVERTISE_ADDRESS", "http://x:1", "a host name or IP address")]
    public void Load_BadPeerSetting_NamesTheKeyAndWhatIsExpected(string key, string value, string expected)
    {
        var error = Assert.Throws<ConfigurationException>(() => Load((key, value)));

        var line = Assert.Single(error.Errors);
        Assert.Equal(key, line.Key);
        Assert.Contains(expected, line.Expected, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_IdentityKey_DecodesThe32ByteKey()
    {
        var key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

        var settings = Load(("IDENTITY_KEY", Convert.ToBase64String(key)));

        Assert.Equal(key, settings.Node.IdentityKey);
        Assert.Null(Load().Node.IdentityKey);
    }

    [Theory]
    [InlineData("not base64!")]
    [InlineData("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==")]
    public void Load_BadIdentityKey_NamesTheKeyWithoutRepeatingTheValue(string value)
    {
        var error = Assert.Throws<ConfigurationException>(() => Load(("IDENTITY_KEY", value)));

        Assert.Contains("IDENTITY_KEY", error.Message);
        Assert.Contains("32-byte Ed25519 private key", error.Message);
        Assert.DoesNotContain(value, error.Message);
    }

    internal static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Tenzro.Node.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
