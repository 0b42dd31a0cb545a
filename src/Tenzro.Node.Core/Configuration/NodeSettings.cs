using Microsoft.Extensions.Configuration;
using Tenzro.Node.Core.Security;

namespace Tenzro.Node.Core.Configuration;

/// <summary>Every setting of the node, bound and validated.</summary>
public sealed record NodeSettings
{
    public static readonly string[] Tiers = ["inference", "aggregator", "training", "feedback"];

    public NodeOptions Node { get; init; } = new();
    public HttpOptions Http { get; init; } = new();
    public StorageOptions Storage { get; init; } = new();
    public LoggingOptions Logging { get; init; } = new();
    public NetworkOptions Network { get; init; } = new();
    public AggregationOptions Aggregation { get; init; } = new();
    public HardwareOptions Hardware { get; init; } = new();
    public TaskOptions Tasks { get; init; } = new();
    public ResourceOptions Resources { get; init; } = new();
    public MonitoringOptions Monitoring { get; init; } = new();
    public QuotaOptions Quotas { get; init; } = new();
    public SecurityOptions Security { get; init; } = new();

    /// <summary>
    /// Builds the configuration with the documented precedence: command line over environment
    /// over the <c>.env</c> file over the embedded defaults.
    /// </summary>
    /// <param name="commandLine">Overrides as KEY=VALUE pairs.</param>
    /// <param name="environment">Environment variables (the process environment in production).</param>
    /// <param name="envFile">Path of the <c>.env</c> file; a missing file is not an error.</param>
    public static IConfiguration BuildConfiguration(
        IEnumerable<KeyValuePair<string, string?>> commandLine,
        IEnumerable<KeyValuePair<string, string?>> environment,
        string? envFile)
    {
        var builder = new ConfigurationBuilder();
        if (envFile is not null && File.Exists(envFile))
        {
            var pairs = DotNetEnv.Env.Load(envFile, new DotNetEnv.LoadOptions(setEnvVars: false, clobberExistingVars: false, onlyExactPath: true));
            builder.AddInMemoryCollection(pairs.Select(p => new KeyValuePair<string, string?>(p.Key, p.Value)));
        }

        builder.AddInMemoryCollection(environment.Where(p => SettingCatalog.Contains(p.Key)));
        builder.AddInMemoryCollection(commandLine);
        return builder.Build();
    }

    /// <summary>Reads the process environment as configuration pairs.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> ProcessEnvironment() =>
        System.Environment.GetEnvironmentVariables()
            .Cast<System.Collections.DictionaryEntry>()
            .Select(e => new KeyValuePair<string, string?>((string)e.Key, e.Value as string));

    /// <summary>Binds every setting; all bad keys are reported together.</summary>
    /// <exception cref="ConfigurationException">One or more settings are invalid.</exception>
    public static NodeSettings Load(IConfiguration configuration, string? workingDirectory = null)
    {
        var r = new SettingsReader(configuration);
        var baseDirectory = workingDirectory ?? Directory.GetCurrentDirectory();

        var nodeType = r.OneOf("NODE_TYPE", ["individual"], new Dictionary<string, string>
        {
            ["regional_node"] = "regional_node is run by the regional node program, not by tenzro-node",
            ["global_node"] = "global_node is run by the global node program, not by tenzro-node",
        });

        var dataDir = r.String("DATA_DIR");
        if (dataDir.Length == 0)
        {
            r.Fail("DATA_DIR", dataDir, "a directory path");
            dataDir = "./data";
        }

        var bootstrap = BootstrapEntries.Read(r);
        var settings = new NodeSettings
        {
            Node = new NodeOptions
            {
                Environment = r.OneOf("NODE_ENV", ["production", "development", "test"]),
                NodeType = nodeType,
                NodeTier = r.OneOf("NODE_TIER", Tiers),
                EnforceTier = r.Bool("ENFORCE_TIER"),
                Region = RequireNonEmpty(r, "REGION"),
                TokenBalance = r.Double("TOKEN_BALANCE", 0, 1e15),
                DeviceId = r.OptionalString("DEVICE_ID"),
                IdentityKey = IdentityKey(r),
                WalletAddress = r.OptionalString("WALLET_ADDRESS"),
                ParentProcessId = r.OptionalInt("PARENT_PID", 1, int.MaxValue),
            },
            Http = new HttpOptions
            {
                Host = RequireNonEmpty(r, "HOST"),
                Port = r.Int("PORT", 0, 65535),
                MaxRequestSize = r.Long("MAX_REQUEST_SIZE", 1024, 1L << 34),
                TlsCertificatePath = ExistingFile(r, "TLS_CERT_PATH", baseDirectory),
                TlsKeyPath = ExistingFile(r, "TLS_KEY_PATH", baseDirectory),
            },
            Storage = new StorageOptions
            {
                DataDirectory = Path.GetFullPath(dataDir, baseDirectory),
                SqliteCacheMB = r.AutoOrInt("SQLITE_CACHE_MB", 1, 65_536),
                SqliteMmapMB = r.AutoOrInt("SQLITE_MMAP_MB", 0, 65_536),
            },
            Logging = new LoggingOptions
            {
                Level = r.OneOf("LOG_LEVEL", ["trace", "debug", "information", "warning", "error", "critical"]),
                Format = r.OneOf("LOG_FORMAT", ["text", "json"]),
                FilePath = r.OptionalString("LOG_FILE_PATH") is { } logPath ? Path.GetFullPath(logPath, baseDirectory) : null,
                FileSizeLimit = r.Long("LOG_FILE_SIZE_LIMIT", 4096, long.MaxValue),
                FileCount = r.Int("LOG_FILE_COUNT", 1, 1000),
            },
            Network = new NetworkOptions
            {
                BootstrapNodes = bootstrap.Regional,
                BootstrapPeers = bootstrap.Peers,
                DhtContacts = bootstrap.DhtContacts,
                P2pHost = IpAddress(r, "P2P_HOST"),
                AdvertiseAddress = AdvertiseAddress(r),
                MaxPeerLinks = r.Int("MAX_PEER_LINKS", 1, 4096),
                PeerPingInterval = r.Milliseconds("PEER_PING_INTERVAL", 100, 3_600_000),
                PeerDeadLinkTimeout = r.Milliseconds("PEER_DEAD_LINK_TIMEOUT", 101, 86_400_000),
                PeerHelloTimeout = r.Milliseconds("PEER_HELLO_TIMEOUT", 100, 600_000),
                RaftPort = r.Int("RAFT_PORT", 0, 65535),
                LanDiscovery = r.OneOf("LAN_DISCOVERY_ENABLED", ["auto", "true", "false"]),
                RegionalNodeUrl = r.OptionalUrl("REGIONAL_NODE_URL", "ws", "wss"),
                HeartbeatInterval = r.Milliseconds("HEARTBEAT_INTERVAL", 10, 86_400_000),
                RegionalKeepAliveTimeout = r.Milliseconds("REGIONAL_KEEPALIVE_TIMEOUT", 3000, 3_600_000),
                ReconnectInterval = r.Milliseconds("RECONNECT_INTERVAL", 10, 86_400_000),
                ReconnectMaxInterval = r.Milliseconds("RECONNECT_MAX_INTERVAL", 10, 86_400_000),
                MaxReconnectAttempts = r.Int("MAX_RECONNECT_ATTEMPTS", 1, 1_000_000),
                MaxMessageSize = r.Long("MAX_MESSAGE_SIZE", 1024, int.MaxValue),
                RegionalNodeKey = PublicKey(r, "REGIONAL_NODE_KEY"),
                AllowInsecureTransport = r.Bool("ALLOW_INSECURE_TRANSPORT"),
                RegionalCaCertificate = ExistingFile(r, "REGIONAL_CA_CERT", baseDirectory),
                DhtEnabled = r.Bool("DHT_ENABLED"),
                DhtRefreshInterval = r.Milliseconds("DHT_REFRESH_INTERVAL", 100, 86_400_000),
                LocalDiscoveryPort = r.Int("LOCAL_DISCOVERY_PORT", 0, 65535),
                BandwidthMbps = r.OptionalDouble("BANDWIDTH_MBPS", 0, 1e7),
                BandwidthTestUrl = r.OptionalUrl("BANDWIDTH_TEST_URL", "http", "https"),
                BandwidthTestInterval = BandwidthInterval(r),
                BandwidthProbeEnabled = r.Bool("BANDWIDTH_PROBE_ENABLED"),
            },
            Aggregation = new AggregationOptions
            {
                Enabled = r.Bool("AGGREGATION_ENABLED"),
                Threshold = AggregationThreshold(r),
                ElectionTimeout = r.Milliseconds("AGGREGATION_ELECTION_TIMEOUT", 50, 600_000),
                Lease = r.Milliseconds("AGGREGATION_LEASE", 100, 86_400_000),
                Timeout = r.Milliseconds("AGGREGATION_TIMEOUT", 100, 86_400_000),
                MinTier = r.OneOf("MIN_AGGREGATION_TIER", Tiers),
                NeedsGpu = r.Bool("GPU_REQUIRED"),
            },
            Hardware = new HardwareOptions
            {
                MinCpuCores = r.Int("MIN_CPU_CORES", 0, 100_000),
                MinMemoryGb = r.Double("MIN_MEMORY_GB", 0, 1e6),
                MinStorageGb = r.Double("MIN_STORAGE_GB", 0, 1e9),
                GpuRequired = r.Bool("GPU_REQUIRED"),
                ProfileUpdateInterval = r.Milliseconds("PROFILE_UPDATE_INTERVAL", 100, 86_400_000),
                BenchmarkOnStart = r.Bool("BENCHMARK_ON_START"),
                GcMode = r.OneOf("GC_MODE", ["auto", "workstation", "server"]),
            },
            Tasks = new TaskOptions
            {
                MaxConcurrentTasks = r.AutoOrInt("MAX_CONCURRENT_TASKS", 1, 1024),
                OnnxSessionCacheMB = r.AutoOrInt("ONNX_SESSION_CACHE_MB", 1, 1_048_576),
                OnnxMemoryArena = r.OneOf("ONNX_MEMORY_ARENA", ["auto", "on", "off"]),
                OnnxExecutionProvider = r.OneOf("ONNX_EXECUTION_PROVIDER", ["auto", "cpu"]),
                OnnxThreads = r.AutoOrInt("ONNX_THREADS", 1, 256),
                WasmCacheMB = r.AutoOrInt("WASM_CACHE_MB", 1, 1_048_576),
                ScratchQuota = r.OneOf("SCRATCH_QUOTA", ["auto", "walk"]),
                MaxQueuedTasks = r.Int("MAX_QUEUED_TASKS", 1, 100_000_000),
                TaskTimeout = r.Seconds("TASK_TIMEOUT", 1, 30L * 86400),
                ResultRetentionPeriod = r.Seconds("RESULT_RETENTION_PERIOD", 1, 3650L * 86400),
                MaxAttempts = r.Int("MAX_TASK_ATTEMPTS", 1, 100),
                Workers = r.Bool("TASK_WORKERS"),
            },
            Resources = new ResourceOptions
            {
                MaxCpuPercent = r.Double("MAX_CPU_PERCENT", 1, 100),
                MaxMemoryGb = r.OptionalDouble("MAX_MEMORY_GB", 0, 1e6),
                MaxStorageGb = r.OptionalDouble("MAX_STORAGE_GB", 0, 1e9),
                MaxGpuMemoryGb = r.OptionalDouble("MAX_GPU_MEMORY_GB", 0, 1e6),
                CriticalMemoryPercent = r.Double("CRITICAL_MEMORY_PERCENT", 1, 100),
                CriticalStoragePercent = r.Double("CRITICAL_STORAGE_PERCENT", 1, 100),
                ActiveMaxCpuPercent = r.OptionalDouble("ACTIVE_MAX_CPU_PERCENT", 0, 100),
                ActiveMaxMemoryGb = r.OptionalDouble("ACTIVE_MAX_MEMORY_GB", 0, 1e6),
                RunOnlyWhenIdle = r.Bool("RUN_ONLY_WHEN_IDLE"),
                IdleAfter = r.Milliseconds("IDLE_AFTER", 0, 7L * 86_400_000),
            },
            Quotas = new QuotaOptions
            {
                TasksPerMinute = r.Int("QUOTA_TASKS_PER_MINUTE", 1, 10_000_000),
                CpuSecondsPerHour = r.Double("QUOTA_CPU_SECONDS_PER_HOUR", 1, 1e12),
                ApplyToLoopback = r.Bool("QUOTA_LOOPBACK"),
                QueuedBytes = r.Long("QUOTA_QUEUED_BYTES", 1024, long.MaxValue),
                StoredBytes = r.OptionalString("QUOTA_STORED_BYTES") is null ? null : r.Long("QUOTA_STORED_BYTES", 1024, long.MaxValue),
            },
            Monitoring = new MonitoringOptions
            {
                MetricsUpdateInterval = r.Milliseconds("METRICS_UPDATE_INTERVAL", 10, 86_400_000),
                HealthCheckInterval = r.Milliseconds("HEALTH_CHECK_INTERVAL", 10, 86_400_000),
                OtlpEndpoint = r.OptionalUrl("OTEL_EXPORTER_OTLP_ENDPOINT", "http", "https"),
            },
        };

        settings = settings with { Security = ReadSecurity(r, settings.Http.Host) };
        if (settings.Network.ReconnectMaxInterval < settings.Network.ReconnectInterval)
        {
            r.Fail("RECONNECT_MAX_INTERVAL", r.Raw("RECONNECT_MAX_INTERVAL"), $"at least RECONNECT_INTERVAL ({r.Raw("RECONNECT_INTERVAL")})");
        }

        if (settings.Network.PeerDeadLinkTimeout <= settings.Network.PeerPingInterval && r.Errors.All(e => e.Key is not ("PEER_PING_INTERVAL" or "PEER_DEAD_LINK_TIMEOUT")))
        {
            r.Fail("PEER_DEAD_LINK_TIMEOUT", r.Raw("PEER_DEAD_LINK_TIMEOUT"), $"more than PEER_PING_INTERVAL ({r.Raw("PEER_PING_INTERVAL")}), so that a live link is heard from before it counts as dead");
        }

        CheckActiveLimits(r, settings.Resources);
        if ((settings.Http.TlsCertificatePath is null) != (settings.Http.TlsKeyPath is null) && r.Errors.All(e => e.Key is not ("TLS_CERT_PATH" or "TLS_KEY_PATH")))
        {
            var missing = settings.Http.TlsCertificatePath is null ? "TLS_CERT_PATH" : "TLS_KEY_PATH";
            r.Fail(missing, string.Empty, "set together with " + (missing == "TLS_CERT_PATH" ? "TLS_KEY_PATH" : "TLS_CERT_PATH") + ": the PEM certificate and its private key");
        }

        if (r.Errors.Count > 0)
        {
            throw new ConfigurationException(r.Errors);
        }

        return settings;
    }

    private static byte[]? PublicKey(SettingsReader r, string key)
    {
        if (r.OptionalString(key) is not { } text)
        {
            return null;
        }

        try
        {
            var bytes = Convert.FromBase64String(text);
            if (bytes.Length == 32)
            {
                return bytes;
            }
        }
        catch (FormatException)
        {
        }

        r.Fail(key, text, "an Ed25519 public key: standard base64 of 32 bytes (44 characters ending in '=')");
        return null;
    }

    /// <summary>The roles an API key may hold, lowest first.</summary>
    public static readonly string[] Roles = ["reader", "submitter", "admin"];

    private static SecurityOptions ReadSecurity(SettingsReader r, string host)
    {
        var keys = new List<ConfiguredApiKey>();
        foreach (var entry in r.String("API_KEYS").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = entry.IndexOf(':', StringComparison.Ordinal);
            var role = colon < 0 ? string.Empty : entry[..colon].Trim().ToLowerInvariant();
            var key = colon < 0 ? entry : entry[(colon + 1)..].Trim();
            if (!Roles.Contains(role) || !ApiKeyFormat.TryParse(key, out _, out _))
            {
                // The value is a secret: the message names the entry by position, never by content.
                r.Fail("API_KEYS", $"<entry {keys.Count + 1}>", "comma-separated role:key pairs, role reader, submitter or admin and key tnz_<id>_<secret> (id: 1-32 letters or digits, secret: 16-128 letters or digits)");
                continue;
            }

            keys.Add(new ConfiguredApiKey(role, key));
        }

        if (r.OptionalString("API_KEY") is { } single)
        {
            if (ApiKeyFormat.TryParse(single, out _, out _))
            {
                keys.Add(new ConfiguredApiKey("admin", single));
            }
            else if (ApiKeyFormat.TryParseBare(single, out var bareId, out var bareSecret))
            {
                keys.Add(new ConfiguredApiKey("admin", $"{ApiKeyFormat.Prefix}{bareId}_{bareSecret}"));
            }
            else
            {
                r.Fail("API_KEY", "<redacted>", "one admin key tnz_<id>_<secret> (id: 1-32 letters or digits, secret: 16-128 letters or digits), or a bare secret of 16-128 letters or digits");
            }
        }

        var duplicate = keys.GroupBy(k => ApiKeyFormat.TryParse(k.Key, out var id, out _) ? id : k.Key, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            r.Fail("API_KEYS", $"<id {duplicate.Key}>", "keys with distinct ids (the part between tnz_ and the second _)");
        }

        return new SecurityOptions
        {
            ApiKeys = keys,
            PublicHostnames = [.. r.String("PUBLIC_HOSTNAMES").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(h => h.ToLowerInvariant())],
            RequireAuthOnLoopback = r.Bool("REQUIRE_AUTH_ON_LOOPBACK"),
        };
    }

    /// <summary>Whether <paramref name="host"/> (the HOST setting) listens on loopback only.</summary>
    public static bool IsLoopbackHost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var address) && System.Net.IPAddress.IsLoopback(address));

    /// <summary>IDENTITY_KEY: base64 of 32 bytes. The message never repeats the value: it is a private key.</summary>
    private static byte[]? IdentityKey(SettingsReader r)
    {
        if (r.OptionalString("IDENTITY_KEY") is not { } text)
        {
            return null;
        }

        var buffer = new byte[(text.Length * 3 / 4) + 3];
        if (Convert.TryFromBase64String(text.Trim(), buffer, out var written) && written == 32)
        {
            return buffer[..32];
        }

        r.Fail("IDENTITY_KEY", $"<{text.Length} characters, not shown>", "the base64 of a 32-byte Ed25519 private key, such as 'base64 -w0 DATA_DIR/node.key' prints");
        return null;
    }

    private static string? ExistingFile(SettingsReader r, string key, string baseDirectory)
    {
        if (r.OptionalString(key) is not { } value)
        {
            return null;
        }

        var path = Path.GetFullPath(value, baseDirectory);
        if (!File.Exists(path))
        {
            r.Fail(key, value, $"the path of a readable file ({path} does not exist)");
        }

        return path;
    }

    /// <summary>BANDWIDTH_TEST_INTERVAL: 0, or at least five minutes (a measurement moves megabytes and spends two of a probe's hourly permits).</summary>
    private static TimeSpan BandwidthInterval(SettingsReader r)
    {
        var interval = r.Milliseconds("BANDWIDTH_TEST_INTERVAL", 0, 30L * 86_400_000);
        if (interval > TimeSpan.Zero && interval < TimeSpan.FromMinutes(5))
        {
            r.Fail("BANDWIDTH_TEST_INTERVAL", r.Raw("BANDWIDTH_TEST_INTERVAL"), "0 (start-up and on request only) or an interval from 300000 to 2592000000 ms");
            return TimeSpan.FromHours(6);
        }

        return interval;
    }

    /// <summary>The active limits are a restriction of the idle ones, never a widening.</summary>
    private static void CheckActiveLimits(SettingsReader r, ResourceOptions resources)
    {
        if (resources.ActiveMaxCpuPercent > resources.MaxCpuPercent)
        {
            r.Fail("ACTIVE_MAX_CPU_PERCENT", r.Raw("ACTIVE_MAX_CPU_PERCENT"), $"at most MAX_CPU_PERCENT ({r.Raw("MAX_CPU_PERCENT")}), or empty");
        }

        if (resources.ActiveMaxMemoryGb > resources.MaxMemoryGb)
        {
            r.Fail("ACTIVE_MAX_MEMORY_GB", r.Raw("ACTIVE_MAX_MEMORY_GB"), $"at most MAX_MEMORY_GB ({r.Raw("MAX_MEMORY_GB")}), or empty");
        }
    }

    /// <summary>An IP address literal (the listener binds it, so a name would be ambiguous).</summary>
    private static string IpAddress(SettingsReader r, string key)
    {
        var value = r.String(key);
        if (!System.Net.IPAddress.TryParse(value, out _))
        {
            r.Fail(key, value, "an IP address such as 0.0.0.0, 127.0.0.1 or ::");
            return SettingCatalog.Get(key).Default;
        }

        return value;
    }

    /// <summary>ADVERTISE_ADDRESS: empty, or a host name or IP address without a port or scheme.</summary>
    private static string? AdvertiseAddress(SettingsReader r)
    {
        if (r.OptionalString("ADVERTISE_ADDRESS") is not { } value)
        {
            return null;
        }

        if (System.Net.IPAddress.TryParse(value, out _) || Uri.CheckHostName(value) == UriHostNameType.Dns)
        {
            return value;
        }

        r.Fail("ADVERTISE_ADDRESS", value, "empty, or a host name or IP address (no scheme, no port)");
        return null;
    }

    /// <summary>AGGREGATION_THRESHOLD counts this node; below 3 a group could not survive the loss of one voter.</summary>
    private static int AggregationThreshold(SettingsReader r)
    {
        var threshold = r.Int("AGGREGATION_THRESHOLD", 1, 1000);
        if (threshold is > 0 and < 3)
        {
            r.Fail("AGGREGATION_THRESHOLD", r.Raw("AGGREGATION_THRESHOLD"), "at least 3 (this node included): a Raft group needs 3 voters to survive the loss of one");
        }

        return threshold;
    }

    private static string RequireNonEmpty(SettingsReader r, string key)
    {
        var value = r.String(key);
        if (value.Length == 0)
        {
            r.Fail(key, value, "a non-empty value");
            return SettingCatalog.Get(key).Default;
        }

        return value;
    }
}

/// <summary>Thrown when settings are invalid; carries every bad key.</summary>
public sealed class ConfigurationException(IReadOnlyList<SettingError> errors)
    : Exception("Invalid configuration:" + System.Environment.NewLine + string.Join(System.Environment.NewLine, errors.Select(e => "  " + e)))
{
    /// <summary>The exit code for bad configuration (EX_CONFIG).</summary>
    public const int ExitCode = 78;

    public IReadOnlyList<SettingError> Errors { get; } = errors;
}
