namespace Tenzro.Node.Core.Configuration;

/// <summary>The node's identity and role (NODE_TYPE, NODE_TIER, REGION, ...).</summary>
public sealed record NodeOptions
{
    public string Environment { get; init; } = "production";
    public string NodeType { get; init; } = "individual";
    public string NodeTier { get; init; } = "inference";
    public bool EnforceTier { get; init; }
    public string Region { get; init; } = "us-east";
    public double TokenBalance { get; init; }
    public string? DeviceId { get; init; }

    /// <summary>IDENTITY_KEY: the 32-byte Ed25519 private key that replaces <c>DATA_DIR/node.key</c>; null: the key file.</summary>
    public byte[]? IdentityKey { get; init; }
    public string? WalletAddress { get; init; }

    /// <summary>PARENT_PID: the process whose end stops the node; null: none.</summary>
    public int? ParentProcessId { get; init; }
}

/// <summary>The HTTP API listener.</summary>
public sealed record HttpOptions
{
    public string Host { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 8080;
    public long MaxRequestSize { get; init; } = 16 * 1024 * 1024;

    /// <summary>TLS_CERT_PATH: the PEM certificate the API is served with over HTTPS; null: plain HTTP.</summary>
    public string? TlsCertificatePath { get; init; }

    /// <summary>TLS_KEY_PATH: the PEM private key of <see cref="TlsCertificatePath"/>.</summary>
    public string? TlsKeyPath { get; init; }
}

/// <summary>Where the node keeps its state.</summary>
public sealed record StorageOptions
{
    /// <summary>Absolute path of DATA_DIR.</summary>
    public string DataDirectory { get; init; } = Path.GetFullPath("data");

    /// <summary>SQLITE_CACHE_MB: SQLite's page cache per connection; null (<c>auto</c>) derives it from memory.</summary>
    public int? SqliteCacheMB { get; init; }

    /// <summary>SQLITE_MMAP_MB: how much of the database file SQLite maps into memory; null (<c>auto</c>) derives it from memory.</summary>
    public int? SqliteMmapMB { get; init; }
}

public sealed record LoggingOptions
{
    public string Level { get; init; } = "information";
    public string Format { get; init; } = "text";
    public string? FilePath { get; init; }
    public long FileSizeLimit { get; init; } = 10 * 1024 * 1024;
    public int FileCount { get; init; } = 7;
}

/// <summary>The regional link and peer discovery.</summary>
public sealed record NetworkOptions
{
    /// <summary>The ws:// and wss:// entries of BOOTSTRAP_NODES: regional nodes only.</summary>
    public IReadOnlyList<Uri> BootstrapNodes { get; init; } = [];

    /// <summary>The <c>tenzro://&lt;node id&gt;@host:port</c> entries of BOOTSTRAP_NODES: peers to keep linked.</summary>
    public IReadOnlyList<PeerAddress> BootstrapPeers { get; init; } = [];

    /// <summary>The <c>udp://host:port</c> entries of BOOTSTRAP_NODES: DHT contacts for the DHT to join through.</summary>
    public IReadOnlyList<DnsEndPointText> DhtContacts { get; init; } = [];

    /// <summary>P2P_HOST: the address the peer-link listener (and later the DHT and group log) binds.</summary>
    public string P2pHost { get; init; } = "0.0.0.0";

    /// <summary>ADVERTISE_ADDRESS: the host peers are told to dial; null: each interface's own address.</summary>
    public string? AdvertiseAddress { get; init; }

    /// <summary>MAX_PEER_LINKS: open peer links at most, inbound and outbound together.</summary>
    public int MaxPeerLinks { get; init; } = 32;

    /// <summary>PEER_PING_INTERVAL: how often a ping goes out on each open peer link.</summary>
    public TimeSpan PeerPingInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>PEER_DEAD_LINK_TIMEOUT: a peer link silent for this long is closed as dead.</summary>
    public TimeSpan PeerDeadLinkTimeout { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>PEER_HELLO_TIMEOUT: the time allowed for TCP, TLS and the upgrade of a peer link, and again for its hello.</summary>
    public TimeSpan PeerHelloTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>RAFT_PORT: the aggregation group log's TCP port (0 picks a free one), announced in the node record.</summary>
    public int RaftPort { get; init; } = 8082;

    /// <summary>LAN_DISCOVERY_ENABLED as written: auto, true or false.</summary>
    public string LanDiscovery { get; init; } = "auto";

    /// <summary>Whether LAN discovery runs: <c>auto</c> means on only when the node takes part in a network.</summary>
    public bool LanDiscoveryEnabled => LanDiscovery switch
    {
        "true" => true,
        "false" => false,
        _ => EffectiveRegionalUrl is not null || BootstrapPeers.Count > 0 || DhtContacts.Count > 0,
    };

    public Uri? RegionalNodeUrl { get; init; }
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>REGIONAL_KEEPALIVE_TIMEOUT: a regional link whose ping (every third of this) goes unanswered this long is dead.</summary>
    public TimeSpan RegionalKeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(90);
    public TimeSpan ReconnectInterval { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan ReconnectMaxInterval { get; init; } = TimeSpan.FromSeconds(60);
    public int MaxReconnectAttempts { get; init; } = 5;
    public long MaxMessageSize { get; init; } = 16 * 1024 * 1024;

    /// <summary>REGIONAL_NODE_KEY: the regional node's pinned Ed25519 public key; null: pinned by the first validly signed frame.</summary>
    public byte[]? RegionalNodeKey { get; init; }
    public bool AllowInsecureTransport { get; init; }

    /// <summary>Absolute path of REGIONAL_CA_CERT: a PEM CA certificate trusted for wss:// besides the system store; null when unset.</summary>
    public string? RegionalCaCertificate { get; init; }
    public bool DhtEnabled { get; init; } = true;
    public TimeSpan DhtRefreshInterval { get; init; } = TimeSpan.FromSeconds(60);
    public int LocalDiscoveryPort { get; init; } = 8081;
    public double? BandwidthMbps { get; init; }

    /// <summary>BANDWIDTH_TEST_URL: what the bandwidth is measured against; null when no measurement is made.</summary>
    public Uri? BandwidthTestUrl { get; init; }

    /// <summary>BANDWIDTH_TEST_INTERVAL; <see cref="TimeSpan.Zero"/> measures once at start-up and on request only.</summary>
    public TimeSpan BandwidthTestInterval { get; init; } = TimeSpan.FromHours(6);

    /// <summary>BANDWIDTH_PROBE_ENABLED: serve the probe other nodes measure against.</summary>
    public bool BandwidthProbeEnabled { get; init; } = true;

    /// <summary>The regional node to join: REGIONAL_NODE_URL, else the first BOOTSTRAP_NODES entry; null when standalone.</summary>
    public Uri? EffectiveRegionalUrl => RegionalNodeUrl ?? (BootstrapNodes.Count > 0 ? BootstrapNodes[0] : null);
}

/// <summary>A peer to dial: its node id (lowercase hex SHA-256 of its Ed25519 key) and its address.</summary>
public sealed record PeerAddress(string NodeId, string Host, int Port)
{
    public override string ToString() => $"tenzro://{NodeId}@{Endpoint}";

    /// <summary><c>host:port</c>, with an IPv6 host in brackets.</summary>
    public string Endpoint => new DnsEndPointText(Host, Port).ToString();
}

/// <summary>A host name or address and a port, as written in configuration.</summary>
public sealed record DnsEndPointText(string Host, int Port)
{
    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}

public sealed record AggregationOptions
{
    /// <summary>AGGREGATION_ENABLED: forms groups only with eligible peers; false keeps the node out of groups.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>AGGREGATION_THRESHOLD: eligible linked nodes, this one included, that form a group (at least 3).</summary>
    public int Threshold { get; init; } = 3;

    /// <summary>AGGREGATION_ELECTION_TIMEOUT: the lower Raft election timeout; the upper one is twice it.</summary>
    public TimeSpan ElectionTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>AGGREGATION_LEASE: how long a leader's assignment of work holds.</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
    public string MinTier { get; init; } = "aggregator";

    /// <summary>GPU_REQUIRED: this node's work needs a GPU, so a group it is in does too (the <c>gpu</c> criterion).</summary>
    public bool NeedsGpu { get; init; }
}

/// <summary>Minimum requirements and profiling.</summary>
public sealed record HardwareOptions
{
    public int MinCpuCores { get; init; } = 2;
    public double MinMemoryGb { get; init; } = 4;
    public double MinStorageGb { get; init; } = 20;
    public bool GpuRequired { get; init; }
    public TimeSpan ProfileUpdateInterval { get; init; } = TimeSpan.FromMinutes(5);
    public bool BenchmarkOnStart { get; init; } = true;

    /// <summary>GC_MODE: <c>auto</c> (derived from cores and memory), <c>workstation</c> or <c>server</c>.</summary>
    public string GcMode { get; init; } = "auto";
}

public sealed record TaskOptions
{
    /// <summary>MAX_CONCURRENT_TASKS: run slots; null (<c>auto</c>, the default) derives them from the machine (<see cref="Optimization.RunSlotRule"/>).</summary>
    public int? MaxConcurrentTasks { get; init; }

    /// <summary>ONNX_SESSION_CACHE_MB: model files whose loaded sessions are kept; null (<c>auto</c>) derives it from the memory the network may not reserve.</summary>
    public int? OnnxSessionCacheMB { get; init; }

    /// <summary>ONNX_MEMORY_ARENA: <c>auto</c> (derived from available memory, in workers only), <c>on</c> or <c>off</c>.</summary>
    public string OnnxMemoryArena { get; init; } = "auto";

    /// <summary>ONNX_EXECUTION_PROVIDER: <c>auto</c> (CUDA for tasks that ask for a GPU, where it works; else the CPU) or <c>cpu</c> (never CUDA).</summary>
    public string OnnxExecutionProvider { get; init; } = "auto";

    /// <summary>ONNX_THREADS: a session's intra-op threads; null (<c>auto</c>) takes the task's reserved cores, rounded up.</summary>
    public int? OnnxThreads { get; init; }

    /// <summary>WASM_CACHE_MB: disk space for compiled WebAssembly modules; null (<c>auto</c>) derives it from the free space on DATA_DIR's disk.</summary>
    public int? WasmCacheMB { get; init; }

    /// <summary>SCRATCH_QUOTA: <c>auto</c> (a loop-mounted image per task where the node can make one, else the walk) or <c>walk</c>.</summary>
    public string ScratchQuota { get; init; } = "auto";

    public int MaxQueuedTasks { get; init; } = 100_000;
    public TimeSpan TaskTimeout { get; init; } = TimeSpan.FromSeconds(1800);
    public TimeSpan ResultRetentionPeriod { get; init; } = TimeSpan.FromSeconds(86400);
    public int MaxAttempts { get; init; } = 3;

    /// <summary>TASK_WORKERS: run ONNX Runtime and ML.NET work in worker processes held to each task's memory (the default).</summary>
    public bool Workers { get; init; } = true;
}

/// <summary>What the operator lets the network use, and when intake pauses.</summary>
public sealed record ResourceOptions
{
    public double MaxCpuPercent { get; init; } = 100;
    public double? MaxMemoryGb { get; init; }
    public double? MaxStorageGb { get; init; }
    public double? MaxGpuMemoryGb { get; init; }
    public double CriticalMemoryPercent { get; init; } = 90;
    public double CriticalStoragePercent { get; init; } = 95;

    /// <summary>ACTIVE_MAX_CPU_PERCENT: the CPU share while the machine's user is active; null: <see cref="MaxCpuPercent"/>.</summary>
    public double? ActiveMaxCpuPercent { get; init; }

    /// <summary>ACTIVE_MAX_MEMORY_GB: the memory while the machine's user is active; null: <see cref="MaxMemoryGb"/>.</summary>
    public double? ActiveMaxMemoryGb { get; init; }

    /// <summary>RUN_ONLY_WHEN_IDLE: take and run tasks only while the machine's user is idle.</summary>
    public bool RunOnlyWhenIdle { get; init; }

    /// <summary>IDLE_AFTER: time without input after which the user counts as idle (default 5 minutes).</summary>
    public TimeSpan IdleAfter { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>True when the user's activity changes anything: active limits below the idle ones, or RUN_ONLY_WHEN_IDLE.</summary>
    public bool ActiveLimitsDiffer => RunOnlyWhenIdle
        || (ActiveMaxCpuPercent is { } cpu && cpu < MaxCpuPercent)
        || (ActiveMaxMemoryGb is not null && ActiveMaxMemoryGb != MaxMemoryGb);
}

public sealed record MonitoringOptions
{
    public TimeSpan MetricsUpdateInterval { get; init; } = TimeSpan.FromSeconds(15);
    public TimeSpan HealthCheckInterval { get; init; } = TimeSpan.FromSeconds(30);
    public Uri? OtlpEndpoint { get; init; }
}

/// <summary>Per-requester quotas (QUOTA_*).</summary>
public sealed record QuotaOptions
{
    public int TasksPerMinute { get; init; } = 120;
    public double CpuSecondsPerHour { get; init; } = 7200;
    public bool ApplyToLoopback { get; init; }

    /// <summary>QUOTA_QUEUED_BYTES: bytes of payloads ('data') the queue may hold, every origin together.</summary>
    public long QueuedBytes { get; init; } = 1L << 30;

    /// <summary>QUOTA_STORED_BYTES: bytes of task inputs and results the store may keep; null: the storage the network may use (MAX_STORAGE_GB).</summary>
    public long? StoredBytes { get; init; }
}

/// <summary>Who may call the API (CONTRACTS.md "Access control").</summary>
public sealed record SecurityOptions
{
    /// <summary>Keys from API_KEYS and API_KEY, as given: role and the whole bearer.</summary>
    public IReadOnlyList<ConfiguredApiKey> ApiKeys { get; init; } = [];

    /// <summary>Host names besides the loopback names and HOST that requests may be addressed to.</summary>
    public IReadOnlyList<string> PublicHostnames { get; init; } = [];

    public bool RequireAuthOnLoopback { get; init; }
}

/// <summary>An API key given in the configuration: its role and the whole <c>tnz_&lt;id&gt;_&lt;secret&gt;</c>.</summary>
public sealed record ConfiguredApiKey(string Role, string Key)
{
    /// <summary>Never the key itself, so that logging the settings cannot leak it.</summary>
    public override string ToString() => $"{Role}:<redacted>";
}
