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
}

/// <summary>The HTTP API listener.</summary>
public sealed record HttpOptions
{
    public string Host { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 8080;
    public long MaxRequestSize { get; init; } = 16 * 1024 * 1024;
}

/// <summary>Where the node keeps its state.</summary>
public sealed record StorageOptions
{
    /// <summary>Absolute path of DATA_DIR.</summary>
    public string DataDirectory { get; init; } = Path.GetFullPath("data");
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
    public IReadOnlyList<Uri> BootstrapNodes { get; init; } = [];
    public Uri? RegionalNodeUrl { get; init; }
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(15);
    public TimeSpan ReconnectInterval { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan ReconnectMaxInterval { get; init; } = TimeSpan.FromSeconds(60);
    public int MaxReconnectAttempts { get; init; } = 5;
    public long MaxMessageSize { get; init; } = 100 * 1024 * 1024;
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

public sealed record AggregationOptions
{
    public int Threshold { get; init; } = 3;
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
    public string MinTier { get; init; } = "aggregator";
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
}

public sealed record TaskOptions
{
    public int MaxConcurrentTasks { get; init; } = 5;
    public int MaxQueuedTasks { get; init; } = 100_000;
    public TimeSpan TaskTimeout { get; init; } = TimeSpan.FromSeconds(1800);
    public TimeSpan ResultRetentionPeriod { get; init; } = TimeSpan.FromSeconds(86400);
    public int MaxAttempts { get; init; } = 3;
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
}
