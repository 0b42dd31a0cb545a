using System.Globalization;
using Microsoft.Data.Sqlite;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Core.Security;

/// <summary>One API key as the node knows it: never its secret, only the secret's SHA-256.</summary>
/// <param name="Source"><c>api</c> for keys made through <c>/api/keys</c> (in the database), <c>config</c> for API_KEYS and API_KEY.</param>
public sealed record ApiKeyRecord(
    string Id,
    string? Name,
    string Role,
    string SecretSha256,
    string? PreviousSha256,
    DateTimeOffset? PreviousUntil,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt,
    string Source)
{
    /// <summary>Whether the key may be used at <paramref name="now"/>.</summary>
    public bool IsActive(DateTimeOffset now) => RevokedAt is null && (ExpiresAt is not { } expires || expires > now);
}

/// <summary>Why a bearer that looks like a key was not accepted.</summary>
public enum ApiKeyCheck
{
    Valid,
    Unknown,
    Revoked,
    Expired,
}

/// <summary>
/// The node's API keys: those of the configuration (hashed at start, kept in memory) and those made through
/// the API (in the <c>api_keys</c> table). A rotated key's previous secret works until <see cref="RotationGrace"/>
/// has passed. Also the audit log of admin actions (the <c>audit_log</c> table).
/// </summary>
/// <remarks>Thread-safe; every key is also held in memory, so checking a bearer never reads the database.</remarks>
public sealed class ApiKeyStore
{
    /// <summary>How long the previous secret of a rotated key keeps working.</summary>
    public static readonly TimeSpan RotationGrace = TimeSpan.FromHours(1);

    private readonly NodeDatabase _database;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ApiKeyRecord> _keys = new(StringComparer.Ordinal);

    public ApiKeyStore(NodeDatabase database, SecurityOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _database = database;
        _time = time;
        foreach (var key in Load())
        {
            _keys[key.Id] = key;
        }

        var now = time.GetUtcNow();
        foreach (var configured in options.ApiKeys)
        {
            _ = ApiKeyFormat.TryParse(configured.Key, out var id, out var secret);
            _keys[id] = new ApiKeyRecord(id, "configuration", configured.Role, ApiKeyFormat.Hash(secret), null, null, now, null, null, "config");
        }
    }

    /// <summary>Whether at least one key can be used now (a node listening beyond loopback needs one).</summary>
    public bool AnyActive
    {
        get
        {
            var now = _time.GetUtcNow();
            lock (_lock)
            {
                return _keys.Values.Any(k => k.IsActive(now));
            }
        }
    }

    /// <summary>Checks a bearer split by <see cref="ApiKeyFormat.TryParse"/>; the key when it is valid.</summary>
    public ApiKeyCheck Check(string id, string secret, out ApiKeyRecord? key)
    {
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            _keys.TryGetValue(id, out key);
        }

        if (key is null || !(ApiKeyFormat.Matches(secret, key.SecretSha256) || (key.PreviousUntil > now && ApiKeyFormat.Matches(secret, key.PreviousSha256))))
        {
            key = null;
            return ApiKeyCheck.Unknown;
        }

        return key.RevokedAt is not null ? ApiKeyCheck.Revoked : key.ExpiresAt <= now ? ApiKeyCheck.Expired : ApiKeyCheck.Valid;
    }

    /// <summary>Every key, newest first.</summary>
    public IReadOnlyList<ApiKeyRecord> List()
    {
        lock (_lock)
        {
            return [.. _keys.Values.OrderByDescending(k => k.CreatedAt).ThenBy(k => k.Id, StringComparer.Ordinal)];
        }
    }

    public ApiKeyRecord? Get(string id)
    {
        lock (_lock)
        {
            return _keys.GetValueOrDefault(id);
        }
    }

    /// <summary>Makes a key; returns it with the whole bearer, which is shown once and never stored.</summary>
    public async Task<(ApiKeyRecord Record, string Key)> CreateAsync(string role, string? name, TimeSpan? expiresIn)
    {
        var (id, secret, bearer) = ApiKeyFormat.Generate();
        var now = _time.GetUtcNow();
        var record = new ApiKeyRecord(id, name, role, ApiKeyFormat.Hash(secret), null, null, now, now + expiresIn, null, "api");
        await _database.Writer.WriteAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO api_keys(id, name, role, secret_sha256, created_at, expires_at) VALUES ($id, $name, $role, $hash, $created, $expires);";
            command.Parameters.AddWithValue("$id", id);
            command.Parameters.AddWithValue("$name", (object?)name ?? DBNull.Value);
            command.Parameters.AddWithValue("$role", role);
            command.Parameters.AddWithValue("$hash", record.SecretSha256);
            command.Parameters.AddWithValue("$created", Format(now));
            command.Parameters.AddWithValue("$expires", record.ExpiresAt is { } e ? Format(e) : DBNull.Value);
            return command.ExecuteNonQuery();
        }).ConfigureAwait(false);
        lock (_lock)
        {
            _keys[id] = record;
        }

        return (record, bearer);
    }

    /// <summary>Revokes a key made through the API; null when there is none with that id.</summary>
    /// <exception cref="InvalidOperationException">The key comes from the configuration (remove it there).</exception>
    public async Task<ApiKeyRecord?> RevokeAsync(string id)
    {
        var key = Modifiable(id);
        if (key is null)
        {
            return null;
        }

        var revoked = key with { RevokedAt = key.RevokedAt ?? _time.GetUtcNow() };
        await UpdateAsync(revoked).ConfigureAwait(false);
        return revoked;
    }

    /// <summary>Gives a key a new secret; the old one works for <see cref="RotationGrace"/>. Null when there is no such key.</summary>
    /// <exception cref="InvalidOperationException">The key comes from the configuration, or is revoked.</exception>
    public async Task<(ApiKeyRecord Record, string Key)?> RotateAsync(string id)
    {
        var key = Modifiable(id);
        if (key is null)
        {
            return null;
        }

        if (key.RevokedAt is not null)
        {
            throw new InvalidOperationException($"Key {id} is revoked; create a new key instead.");
        }

        var (_, secret, _) = ApiKeyFormat.Generate();
        var rotated = key with
        {
            SecretSha256 = ApiKeyFormat.Hash(secret),
            PreviousSha256 = key.SecretSha256,
            PreviousUntil = _time.GetUtcNow() + RotationGrace,
        };
        await UpdateAsync(rotated).ConfigureAwait(false);
        return (rotated, $"{ApiKeyFormat.Prefix}{id}_{secret}");
    }

    /// <summary>Writes one admin action to the audit log; completes once it is durable.</summary>
    /// <param name="actor">The key id, or <c>admin-token</c>.</param>
    /// <param name="action">Method and path, e.g. <c>POST /api/node/drain</c>.</param>
    public Task AuditAsync(string actor, string action, string? remote, int status) =>
        _database.Writer.WriteAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO audit_log(at, actor, action, remote, status) VALUES ($at, $actor, $action, $remote, $status);";
            command.Parameters.AddWithValue("$at", Format(_time.GetUtcNow()));
            command.Parameters.AddWithValue("$actor", actor);
            command.Parameters.AddWithValue("$action", action);
            command.Parameters.AddWithValue("$remote", (object?)remote ?? DBNull.Value);
            command.Parameters.AddWithValue("$status", status);
            return command.ExecuteNonQuery();
        });

    /// <summary>The newest <paramref name="limit"/> audit entries, newest first.</summary>
    public IReadOnlyList<AuditEntry> Audit(int limit)
    {
        using var connection = _database.OpenReadConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT at, actor, action, remote, status FROM audit_log ORDER BY seq DESC LIMIT $limit;";
        command.Parameters.AddWithValue("$limit", limit);
        using var reader = command.ExecuteReader();
        var entries = new List<AuditEntry>();
        while (reader.Read())
        {
            entries.Add(new AuditEntry(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetInt32(4)));
        }

        return entries;
    }

    private ApiKeyRecord? Modifiable(string id)
    {
        var key = Get(id);
        if (key?.Source == "config")
        {
            throw new InvalidOperationException($"Key {id} comes from API_KEYS or API_KEY; change it there and restart the node.");
        }

        return key;
    }

    private async Task UpdateAsync(ApiKeyRecord key)
    {
        await _database.Writer.WriteAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE api_keys SET secret_sha256=$hash, previous_sha256=$previous, previous_until=$until, revoked_at=$revoked WHERE id=$id;";
            command.Parameters.AddWithValue("$id", key.Id);
            command.Parameters.AddWithValue("$hash", key.SecretSha256);
            command.Parameters.AddWithValue("$previous", (object?)key.PreviousSha256 ?? DBNull.Value);
            command.Parameters.AddWithValue("$until", key.PreviousUntil is { } u ? Format(u) : DBNull.Value);
            command.Parameters.AddWithValue("$revoked", key.RevokedAt is { } r ? Format(r) : DBNull.Value);
            return command.ExecuteNonQuery();
        }).ConfigureAwait(false);
        lock (_lock)
        {
            _keys[key.Id] = key;
        }
    }

    private List<ApiKeyRecord> Load()
    {
        using var connection = _database.OpenReadConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, name, role, secret_sha256, previous_sha256, previous_until, created_at, expires_at, revoked_at FROM api_keys;";
        using var reader = command.ExecuteReader();
        var keys = new List<ApiKeyRecord>();
        while (reader.Read())
        {
            keys.Add(new ApiKeyRecord(
                reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), Optional(reader, 5), Parse(reader.GetString(6)), Optional(reader, 7), Optional(reader, 8), "api"));
        }

        return keys;
    }

    private static DateTimeOffset? Optional(SqliteDataReader reader, int column) => reader.IsDBNull(column) ? null : Parse(reader.GetString(column));

    private static string Format(DateTimeOffset time) => Json.Timestamps.FormatPrecise(time);

    private static DateTimeOffset Parse(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}

/// <summary>One admin action: when, by which key (or <c>admin-token</c>), what, from where, and the HTTP status it got.</summary>
public sealed record AuditEntry(string At, string Actor, string Action, string? Remote, int Status);
