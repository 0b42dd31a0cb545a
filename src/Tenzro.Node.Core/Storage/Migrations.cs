namespace Tenzro.Node.Core.Storage;

/// <summary>
/// Every schema migration of the node, in order. A component adds its tables by appending a
/// migration with the next version; released migrations are never edited.
/// </summary>
public static class Migrations
{
    public static IReadOnlyList<Migration> All { get; } =
    [
        new(1, "node_metadata", """
            CREATE TABLE node_metadata (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL);
            """),
        new(2, "tasks", """
            CREATE TABLE tasks (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                task_id TEXT NOT NULL UNIQUE,
                type TEXT NOT NULL,
                priority INTEGER NOT NULL,
                state TEXT NOT NULL,
                origin TEXT NOT NULL,
                content_hash TEXT NOT NULL,
                body TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                progress REAL NOT NULL DEFAULT 0,
                submitted_at TEXT NOT NULL,
                started_at TEXT,
                finished_at TEXT,
                expires_at TEXT,
                error TEXT,
                result TEXT,
                digest TEXT,
                expired INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX tasks_state ON tasks(state, priority, seq);
            CREATE INDEX tasks_expires ON tasks(expires_at) WHERE expires_at IS NOT NULL;
            """),
        new(3, "hardware_benchmarks", """
            CREATE TABLE hardware_benchmarks (fingerprint TEXT NOT NULL PRIMARY KEY, measured_at TEXT NOT NULL, body TEXT NOT NULL);
            """),
        new(4, "blobs", """
            CREATE TABLE blobs (sha256 TEXT NOT NULL PRIMARY KEY, size INTEGER NOT NULL, kind TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT);
            """),
        new(5, "models", """
            CREATE TABLE models (sha256 TEXT NOT NULL PRIMARY KEY, size INTEGER NOT NULL, inputs TEXT NOT NULL, outputs TEXT NOT NULL, source TEXT NOT NULL, created_at TEXT NOT NULL);
            """),
        new(6, "regional_outbox_and_earnings", """
            CREATE TABLE outbox (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                type TEXT NOT NULL,
                task_id TEXT,
                body TEXT NOT NULL,
                created_at TEXT NOT NULL,
                sent_at TEXT,
                error TEXT,
                error_at TEXT
            );
            CREATE INDEX outbox_unsent ON outbox(seq) WHERE sent_at IS NULL;
            CREATE INDEX outbox_task ON outbox(task_id, type);
            CREATE TABLE earnings (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                task_id TEXT,
                reward REAL NOT NULL,
                at TEXT NOT NULL
            );
            """),
        new(7, "bandwidth_measurements", """
            CREATE TABLE bandwidth_measurements (target TEXT NOT NULL PRIMARY KEY, measured_at TEXT NOT NULL, body TEXT NOT NULL);
            """),
        new(8, "tasks_expiring", """
            CREATE INDEX tasks_expiring ON tasks(expires_at) WHERE expired = 0 AND expires_at IS NOT NULL;
            """),
        new(9, "access_control", """
            ALTER TABLE tasks ADD COLUMN owner TEXT NOT NULL DEFAULT 'anonymous-loopback';
            UPDATE tasks SET owner = 'regional' WHERE origin = 'regional';
            CREATE INDEX tasks_owner ON tasks(owner, type);
            CREATE TABLE api_keys (
                id TEXT NOT NULL PRIMARY KEY,
                name TEXT,
                role TEXT NOT NULL,
                secret_sha256 TEXT NOT NULL,
                previous_sha256 TEXT,
                previous_until TEXT,
                created_at TEXT NOT NULL,
                expires_at TEXT,
                revoked_at TEXT
            );
            CREATE TABLE audit_log (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                remote TEXT,
                status INTEGER NOT NULL
            );
            """),
        new(10, "health_probe", """
            CREATE TABLE health_probe (written_at TEXT NOT NULL);
            """),
        new(12, "dht_contacts", """
            CREATE TABLE dht_contacts (id TEXT NOT NULL PRIMARY KEY, endpoint TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL);
            """),
        new(14, "cost_history", """
            CREATE TABLE cost_history (
                key TEXT NOT NULL PRIMARY KEY,
                runs INTEGER NOT NULL,
                log_ratio REAL,
                log_duration_ms REAL NOT NULL,
                peak_memory_mb REAL,
                updated_at TEXT NOT NULL
            );
            """),
    ];
}
