namespace Tenzro.Node.Core.Configuration;

/// <summary>One configuration key: its name, embedded default, and what it means.</summary>
/// <param name="Key">The environment/.env key, upper snake case.</param>
/// <param name="Default">The embedded default as it would be written in a <c>.env</c> file; empty means unset.</param>
/// <param name="Group">The section of <c>.env.example</c> and the docs the key belongs to.</param>
/// <param name="Description">What the key does, with its unit.</param>
public sealed record SettingDefinition(string Key, string Default, string Group, string Description);

/// <summary>
/// The single list of every setting the node reads. <c>.env.example</c> and
/// <c>docs/CONFIGURATION.md</c> are checked against it by a test, so a key cannot be added
/// without being documented.
/// </summary>
public static class SettingCatalog
{
    public static IReadOnlyList<SettingDefinition> All { get; } =
    [
        new("NODE_ENV", "production", "Node", "Environment name (production, development, test); development turns on detailed error bodies."),
        new("NODE_TYPE", "individual", "Node", "Node type. Only 'individual' (a local node) is run by this program."),
        new("NODE_TIER", "inference", "Node", "Configured tier: inference, aggregator, training or feedback. Sent in the regional join."),
        new("ENFORCE_TIER", "false", "Node", "When true, a configured tier above the measured (qualified) tier stops start-up instead of warning."),
        new("REGION", "us-east", "Node", "Region name announced to the regional node."),
        new("TOKEN_BALANCE", "0", "Node", "Token balance announced in join; rewards add to it."),
        new("DEVICE_ID", "", "Node", "Overrides the peer id; default is the hex SHA-256 of the node's Ed25519 public key."),
        new("IDENTITY_KEY", "", "Node", "Base64 of the node's 32-byte Ed25519 private key; replaces DATA_DIR/node.key where the disk does not last (containers, Heroku). 'base64 -w0 DATA_DIR/node.key' prints an existing node's key; 'head -c 32 /dev/urandom | base64' makes a new one. Treat it as a secret."),
        new("WALLET_ADDRESS", "", "Node", "Wallet address that rewards are credited to (informational)."),
        new("PARENT_PID", "", "Node", "Process id of the process that started the node (1-2147483647); the node stops cleanly within about a second once that process has ended, even when it was killed. 'tenzro-node dev-network' sets it for its nodes. Empty: the node runs on its own."),

        new("HOST", "127.0.0.1", "HTTP", "Address the HTTP API listens on. Loopback by default; 0.0.0.0 exposes it."),
        new("PORT", "8080", "HTTP", "TCP port of the HTTP API (1-65535)."),
        new("MAX_REQUEST_SIZE", "16777216", "HTTP", "Largest accepted HTTP request body, in bytes."),
        new("TLS_CERT_PATH", "", "HTTP", "PEM certificate (with its chain) to serve the API over HTTPS instead of HTTP; reloaded when the file changes. Set together with TLS_KEY_PATH."),
        new("TLS_KEY_PATH", "", "HTTP", "PEM private key of TLS_CERT_PATH; reloaded when the file changes."),

        new("API_KEYS", "", "Security", "API keys for containers: comma-separated role:key pairs, role reader, submitter or admin and key a whole tnz_<id>_<secret>; hashed at start. Keys made with 'tenzro-node keys create' live in the database instead."),
        new("API_KEY", "", "Security", "One admin API key (tnz_<id>_<secret>), the same as API_KEYS=admin:<key>; or a bare secret of 16-128 letters or digits (as Heroku generates it), sent as the bearer as it is (the key tnz_admin_<secret>)."),
        new("PUBLIC_HOSTNAMES", "", "Security", "Comma-separated host names the node is reached by besides localhost, 127.0.0.1, [::1] and HOST; requests addressed to any other name are refused (403) unless they carry a valid API key."),
        new("REQUIRE_AUTH_ON_LOOPBACK", "false", "Security", "When true, loopback callers need an API key or the admin token like everyone else (no anonymous submitter role on 127.0.0.1)."),

        new("DATA_DIR", "./data", "Storage", "Directory for the database, identity key, blobs and caches."),
        new("SQLITE_CACHE_MB", "auto", "Storage", "SQLite page cache of each database connection, in MB: auto (usable memory / 2048, 2-32 MB; docs/HARDWARE.md) or a number from 1 to 65536."),
        new("SQLITE_MMAP_MB", "auto", "Storage", "Part of the database file SQLite reads through a memory map, in MB: auto (usable memory / 32, at most 256 MB; docs/HARDWARE.md), 0 (no map) or a number up to 65536."),

        new("LOG_LEVEL", "information", "Logging", "Minimum log level: trace, debug, information, warning, error, critical."),
        new("LOG_FORMAT", "text", "Logging", "Console log format: text or json."),
        new("LOG_FILE_PATH", "", "Logging", "When set, logs are also written to this file as JSON lines, rotated by size."),
        new("LOG_FILE_SIZE_LIMIT", "10485760", "Logging", "Size in bytes at which the log file rotates."),
        new("LOG_FILE_COUNT", "7", "Logging", "Number of rotated log files kept."),

        new("BOOTSTRAP_NODES", "", "Network", "Comma-separated entries of three kinds: ws:// or wss:// URLs of regional nodes (the first one is used when REGIONAL_NODE_URL is empty), tenzro://<node id>@host:port peers the node dials and keeps linked, and udp://host:port DHT contacts. Empty: standalone."),
        new("REGIONAL_NODE_URL", "", "Network", "ws:// or wss:// URL of the regional node to join. Empty: standalone."),
        new("HEARTBEAT_INTERVAL", "15000", "Network", "Interval between node_status messages to the regional node, in ms."),
        new("REGIONAL_KEEPALIVE_TIMEOUT", "90000", "Network", "How long the link to the regional node may leave its WebSocket ping (sent every third of this) unanswered before it counts as dead and is redialled, in ms (3000 to 3600000): a path that drops packets without a close is noticed within it."),
        new("RECONNECT_INTERVAL", "5000", "Network", "First reconnect delay after a lost link, in ms; doubles up to RECONNECT_MAX_INTERVAL."),
        new("RECONNECT_MAX_INTERVAL", "60000", "Network", "Cap of the reconnect delay, in ms; peer links redial at least every 10 s whatever it says."),
        new("MAX_RECONNECT_ATTEMPTS", "5", "Network", "Consecutive failures after which the link is reported failed (retrying continues)."),
        new("MAX_MESSAGE_SIZE", "16777216", "Network", "Largest WebSocket message accepted from the regional node, in bytes; a larger frame is dropped, counted and logged with its size."),
        new("REGIONAL_NODE_KEY", "", "Network", "The regional node's Ed25519 public key (standard base64 of 32 bytes). Set: only frames it signed are accepted. Empty: the key of the first validly signed frame is pinned; until then the link is 'unpinned' (a warning in /api/network/status)."),
        new("ALLOW_INSECURE_TRANSPORT", "false", "Network", "Allow ws:// to non-loopback hosts."),
        new("REGIONAL_CA_CERT", "", "Network", "Path of a PEM CA certificate trusted for wss:// regional links in addition to the system store (e.g. a private CA or a self-signed certificate)."),
        new("DHT_ENABLED", "true", "Network", "Take part in the Kademlia DHT."),
        new("DHT_REFRESH_INTERVAL", "60000", "Network", "DHT bucket refresh interval, in ms."),
        new("LOCAL_DISCOVERY_PORT", "8081", "Network", "TCP port of the peer links (TLS 1.3) and UDP port of the DHT, on P2P_HOST; 0 picks a free one (shown in /api/network/status)."),
        new("P2P_HOST", "0.0.0.0", "Network", "IP address the peer-link listener (and the DHT and the group log) binds; 127.0.0.1 keeps them on this machine."),
        new("ADVERTISE_ADDRESS", "", "Network", "Host name or IP address peers are told to dial (in the node record); empty: the listener's own addresses."),
        new("MAX_PEER_LINKS", "32", "Network", "Open peer links at most, inbound and outbound together (1-4096)."),
        new("PEER_PING_INTERVAL", "15000", "Network", "A ping goes out on every open peer link this often, in ms (100-3600000); each pong refreshes the peer's rttMs and lastSeen."),
        new("PEER_DEAD_LINK_TIMEOUT", "45000", "Network", "A peer link on which nothing arrived for this long is closed as dead by either side, in ms (more than PEER_PING_INTERVAL, at most 86400000); the dialling side then dials again."),
        new("PEER_HELLO_TIMEOUT", "10000", "Network", "Time allowed to open a peer link, in ms (100-600000): TCP, TLS and the WebSocket upgrade must finish within it, then the signed hello exchange within it again. A dial to a path that drops packets gives up after it."),
        new("LAN_DISCOVERY_ENABLED", "auto", "Network", "LAN discovery over mDNS: auto (on when REGIONAL_NODE_URL or BOOTSTRAP_NODES is set, off for a standalone node), true or false. Joins 224.0.0.251 and ff02::fb on UDP 5353 on every interface (docs/NETWORK.md)."),
        new("RAFT_PORT", "8082", "Network", "TCP port of the aggregation group log on P2P_HOST, announced in the node record; 0 picks a free one. Bound only while the node is in a group (the aggregation feature)."),
        new("BANDWIDTH_MBPS", "", "Network", "Network bandwidth reported to the regional node, in Mbps; empty: the figure measured against BANDWIDTH_TEST_URL, else the link speed the OS reports."),
        new("BANDWIDTH_TEST_URL", "", "Network", "http(s) URL the node measures its bandwidth against (download by GET, upload by POST), e.g. another node's http://host:8080/api/network/bandwidth. Empty: no measurement, no traffic."),
        new("BANDWIDTH_TEST_INTERVAL", "21600000", "Network", "Interval between bandwidth measurements, in ms (at least 300000); 0: measure once at start-up and on request only."),
        new("BANDWIDTH_PROBE_ENABLED", "true", "Network", "Serve /api/network/bandwidth for other nodes to measure their bandwidth against (2 at a time, 1 and 24 an hour per remote address, 15 s each)."),

        new("AGGREGATION_ENABLED", "true", "Aggregation", "Forms aggregation groups with eligible linked peers; false keeps the node out of every group."),
        new("AGGREGATION_THRESHOLD", "3", "Aggregation", "Eligible linked nodes, this one included, needed to form an aggregation group; at least 3 (a Raft group needs 3 voters to survive the loss of one)."),
        new("AGGREGATION_TIMEOUT", "60000", "Aggregation", "Time allowed for group formation, in ms; a group without a majority for this long dissolves."),
        new("AGGREGATION_ELECTION_TIMEOUT", "1000", "Aggregation", "Raft election timeout of the group log, in ms; each timeout is drawn between it and twice it."),
        new("AGGREGATION_LEASE", "10000", "Aggregation", "Lease of work assigned by a group's leader, in ms (kept in the group log with each assignment)."),
        new("MIN_AGGREGATION_TIER", "aggregator", "Aggregation", "Lowest tier a peer needs to join an aggregation group."),

        new("MIN_CPU_CORES", "2", "Hardware", "Minimum usable CPU cores; below it the node does not start (exit 78)."),
        new("MIN_MEMORY_GB", "4", "Hardware", "Minimum usable memory in GB; below it the node does not start."),
        new("MIN_STORAGE_GB", "20", "Hardware", "Minimum free storage in GB under DATA_DIR; below it the node does not start."),
        new("GPU_REQUIRED", "false", "Hardware", "Refuse to start without a usable GPU. The node's work then needs a GPU, so its aggregation groups take only peers with a free GPU (the gpu criterion)."),
        new("PROFILE_UPDATE_INTERVAL", "300000", "Hardware", "Refresh interval of the dynamic hardware figures, in ms."),
        new("BENCHMARK_ON_START", "true", "Hardware", "Run the hardware micro-benchmarks in the background after start-up."),
        new("GC_MODE", "auto", "Hardware", "The .NET garbage collector the node runs with: auto (server from 8 cores and 8 GB, else workstation; docs/HARDWARE.md), workstation or server. The node restarts itself in place (same process id) at start when the mode in force differs."),

        new("MAX_CONCURRENT_TASKS", "auto", "Tasks", "Tasks that may run at once: auto (derived from the usable cores, memory and GPUs under the limits in force; docs/HARDWARE.md) or a number from 1 to 1024."),
        new("ONNX_SESSION_CACHE_MB", "auto", "Tasks", "Model files (MB) whose loaded ONNX Runtime sessions are kept for the next inference task: auto (half the memory the network may not reserve, 64-4096 MB; docs/HARDWARE.md) or a number from 1 to 1048576."),
        new("ONNX_MEMORY_ARENA", "auto", "Tasks", "ONNX Runtime's CPU memory arena, which keeps a session's run buffers for its next run: auto (used only in inference workers, where each run keeps its buffers only when the memory available at that run covers what the network may reserve plus what one worker may use, and otherwise gives them back as it ends; docs/HARDWARE.md), on (always kept) or off (no arena)."),
        new("ONNX_EXECUTION_PROVIDER", "auto", "Tasks", "Where ONNX Runtime runs an inference task: auto (CUDA for tasks that ask for a GPU with requirements.gpuCount, where the CUDA provider works (gpuCompute); else the CPU; docs/HARDWARE.md) or cpu (the CPU only: a task that asks for a GPU is refused with 422)."),
        new("ONNX_THREADS", "auto", "Tasks", "ONNX Runtime's intra-op threads for each inference session: auto (the task's requirements.cpu, rounded up, so a session uses the cores its task reserved; docs/HARDWARE.md) or a number from 1 to 256 for every session, whatever the task reserved."),
        new("SCRATCH_QUOTA", "auto", "Tasks", "How a compute task's /scratch is held to its requirements.storageMB: auto (an ext4 image of that size, loop-mounted for the task, where the node runs as root on Linux with loop devices and mkfs.ext4 and DATA_DIR is not tmpfs; else walk; docs/ISOLATION.md) or walk (the directory measured every 10 ms, with a small overshoot)."),
        new("WASM_CACHE_MB", "auto", "Tasks", "Disk space (MB) for compiled WebAssembly modules under DATA_DIR/wasm-cache, so that a restart does not compile them again: auto (1 % of the free space on DATA_DIR's disk at start, 64-1024 MB; docs/HARDWARE.md) or a number from 1 to 1048576."),
        new("MAX_QUEUED_TASKS", "100000", "Tasks", "Tasks that may wait in the queue; beyond it submissions get 503."),
        new("TASK_TIMEOUT", "1800", "Tasks", "Default and maximum task timeout, in seconds."),
        new("RESULT_RETENTION_PERIOD", "86400", "Tasks", "How long results are kept after a task ends, in seconds."),
        new("MAX_TASK_ATTEMPTS", "3", "Tasks", "Attempts before a task interrupted by crashes is failed."),
        new("TASK_WORKERS", "true", "Tasks", "Run ONNX Runtime and ML.NET work in worker processes held to each task's memory; false runs it in the node's process, unbounded (docs/ISOLATION.md)."),

        new("MAX_CPU_PERCENT", "100", "Resources", "Share of the usable CPU cores the network may reserve, in percent."),
        new("MAX_MEMORY_GB", "", "Resources", "Memory the network may reserve, in GB; empty: 80% of usable memory."),
        new("MAX_STORAGE_GB", "", "Resources", "Storage the network may use under DATA_DIR, in GB; empty: 50% of free storage at start."),
        new("MAX_GPU_MEMORY_GB", "", "Resources", "GPU memory the network may reserve, in GB; empty: all of it."),
        new("CRITICAL_MEMORY_PERCENT", "90", "Resources", "Host memory use above which the node stops taking tasks."),
        new("CRITICAL_STORAGE_PERCENT", "95", "Resources", "Storage use of DATA_DIR's filesystem above which the node stops taking tasks."),
        new("ACTIVE_MAX_CPU_PERCENT", "", "Resources", "Share of the usable CPU cores the network may reserve while the machine's user is active, in percent (0-100, at most MAX_CPU_PERCENT); empty: same as MAX_CPU_PERCENT."),
        new("ACTIVE_MAX_MEMORY_GB", "", "Resources", "Memory the network may reserve while the machine's user is active, in GB (at most MAX_MEMORY_GB); empty: same as MAX_MEMORY_GB."),
        new("RUN_ONLY_WHEN_IDLE", "false", "Resources", "Take and run tasks only while the machine's user is idle; while the user is active, submissions get 503 and running Wasm tasks are paused."),
        new("IDLE_AFTER", "300000", "Resources", "Time without keyboard or mouse input after which the machine's user counts as idle, in ms. A machine with no local session and no input device is always idle."),

        new("QUOTA_TASKS_PER_MINUTE", "120", "Resources", "Submissions (tasks and model uploads) one caller may send per minute (the rate limiter; a caller is its API key, else its address, IPv6 by /64); beyond it, 429 with Retry-After."),
        new("QUOTA_CPU_SECONDS_PER_HOUR", "7200", "Resources", "CPU-seconds one caller may use per hour: the measured CPU time of the task's thread (compute, process, aggregate, validate), else reserved cores x run time."),
        new("QUOTA_LOOPBACK", "false", "Resources", "Apply the rate limiter and the CPU quota to loopback callers too (by default they are exempt)."),
        new("QUOTA_QUEUED_BYTES", "1073741824", "Resources", "Bytes of task payloads ('data') the queue may hold, every origin (API, loopback, regional) together; beyond it submissions get 503 and regional tasks task_rejected."),
        new("QUOTA_STORED_BYTES", "", "Resources", "Bytes of task inputs and results the node may keep, every origin together; empty: the storage the network may use (MAX_STORAGE_GB)."),

        new("METRICS_UPDATE_INTERVAL", "15000", "Monitoring", "Sampling period of resource usage and metrics, in ms."),
        new("HEALTH_CHECK_INTERVAL", "30000", "Monitoring", "Period of the background health evaluation, in ms."),
        new("OTEL_EXPORTER_OTLP_ENDPOINT", "", "Monitoring", "When set (e.g. http://127.0.0.1:4317), traces of each task's path are exported by OTLP; off by default."),
    ];

    private static readonly Dictionary<string, SettingDefinition> ByKey =
        All.ToDictionary(s => s.Key, StringComparer.Ordinal);

    /// <summary>Returns the definition of <paramref name="key"/>; throws for a key not in the catalog.</summary>
    public static SettingDefinition Get(string key) =>
        ByKey.TryGetValue(key, out var definition)
            ? definition
            : throw new KeyNotFoundException($"Setting {key} is not in the catalog.");

    public static bool Contains(string key) => ByKey.ContainsKey(key);
}
