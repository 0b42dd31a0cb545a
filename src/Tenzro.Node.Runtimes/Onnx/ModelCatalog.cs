using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// The models this node knows: their bytes live in the <see cref="BlobStore"/> (so they count toward the
/// storage the node lends), their inputs and outputs in the <c>models</c> table. A blob stored by a
/// <c>store</c> task becomes a model the first time a task or request refers to it, if its bytes load.
/// </summary>
/// <remarks>Thread-safe. Metadata is read once per model and kept in memory.</remarks>
internal sealed class ModelCatalog
{
    private const long BytesPerMB = 1024 * 1024;

    private readonly NodeDatabase _database;
    private readonly BlobStore _blobs;
    private readonly ITaskStore _tasks;
    private readonly IResourceLedger _ledger;
    private readonly SessionCache _sessions;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, ModelInfo> _known = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _notModels = new(StringComparer.Ordinal);

    public ModelCatalog(NodeDatabase database, BlobStore blobs, ITaskStore tasks, IResourceLedger ledger, SessionCache sessions, TimeProvider time)
    {
        _database = database;
        _blobs = blobs;
        _tasks = tasks;
        _ledger = ledger;
        _sessions = sessions;
        _time = time;
    }

    /// <summary>The path of a model's bytes.</summary>
    public string PathOf(ModelInfo model) => _blobs.PathOf(model.Sha256);

    /// <summary>
    /// Checks that <paramref name="bytes"/> are a loadable ONNX model, stores them and records the model.
    /// Returns the model and whether it was new.
    /// </summary>
    /// <exception cref="InvalidModelException">The bytes are not a model ONNX Runtime can load.</exception>
    /// <exception cref="ModelStorageFullException">The bytes do not fit in the storage the node lends.</exception>
    public async Task<(ModelInfo Model, bool Created)> AddAsync(byte[] bytes, CancellationToken cancellationToken)
    {
        var (inputs, outputs) = ModelInspector.Inspect(bytes);
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var existing = Registered(sha256);
        if (existing is not null && existing.Source == ModelInfo.Uploaded && _blobs.Exists(sha256))
        {
            return (existing, false);
        }

        if (!_blobs.Exists(sha256))
        {
            var allowedBytes = _ledger.Allowed.StorageMB * BytesPerMB;
            var stored = _blobs.TotalBytes();
            if (stored + bytes.Length > allowedBytes)
            {
                throw new ModelStorageFullException(
                    $"the model is {bytes.Length} bytes and the blob store already holds {stored} of the {allowedBytes} bytes this node lends (MAX_STORAGE_GB); delete models or raise the limit");
            }

            await _blobs.PutAsync(bytes, cancellationToken);
        }

        var model = new ModelInfo(sha256, bytes.Length, inputs, outputs, ModelInfo.Uploaded, existing?.CreatedAt ?? _time.GetUtcNow());
        Save(model);
        _notModels.TryRemove(sha256, out _);
        return (model, existing is null);
    }

    /// <summary>Every recorded model, oldest first.</summary>
    public IReadOnlyList<ModelInfo> List()
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT sha256, size, inputs, outputs, source, created_at FROM models ORDER BY created_at, sha256;";
        using var reader = command.ExecuteReader();
        var models = new List<ModelInfo>();
        while (reader.Read())
        {
            var model = Read(reader);
            _known[model.Sha256] = model;
            models.Add(model);
        }

        return models;
    }

    /// <summary>
    /// The model with this hash: a recorded one, or a stored blob that loads as a model (recorded now).
    /// Null when no such blob is stored.
    /// </summary>
    /// <exception cref="InvalidModelException">A blob with this hash is stored but is not a loadable model.</exception>
    public ModelInfo? Find(string sha256)
    {
        if (!BlobStore.IsHash(sha256))
        {
            return null;
        }

        if (_known.TryGetValue(sha256, out var cached) && _blobs.Exists(sha256))
        {
            return cached;
        }

        var registered = Registered(sha256);
        if (registered is not null && _blobs.Exists(sha256))
        {
            return registered;
        }

        if (_notModels.TryGetValue(sha256, out var reason))
        {
            throw new InvalidModelException(reason);
        }

        var size = _blobs.SizeOf(sha256);
        if (size is null)
        {
            return null;
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(_blobs.PathOf(sha256));
        }
        catch (FileNotFoundException)
        {
            return null;
        }

        try
        {
            var (inputs, outputs) = ModelInspector.Inspect(bytes);
            var model = new ModelInfo(sha256, bytes.Length, inputs, outputs, ModelInfo.FromStoreTask, _time.GetUtcNow());
            Save(model);
            return model;
        }
        catch (InvalidModelException e)
        {
            var message = $"the stored blob {sha256} is {e.Message}";
            _notModels[sha256] = message;
            throw new InvalidModelException(message, e);
        }
    }

    /// <summary>
    /// Forgets the model, drops its cached sessions, and deletes its bytes unless they were stored by a
    /// <c>store</c> task (which owns them). Returns the bytes freed, or null when the model is unknown.
    /// </summary>
    /// <exception cref="ModelInUseException">Queued or running inference tasks refer to the model.</exception>
    public long? Delete(string sha256)
    {
        var model = Registered(sha256);
        if (model is null)
        {
            return null;
        }

        var users = TasksUsing(sha256);
        if (users.Count > 0)
        {
            throw new ModelInUseException(sha256, users);
        }

        using (var connection = _database.OpenConnection())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "DELETE FROM models WHERE sha256=$sha;";
            command.Parameters.AddWithValue("$sha", sha256);
            command.ExecuteNonQuery();
        }

        _known.TryRemove(sha256, out _);
        _sessions.Evict(sha256);
        if (model.Source != ModelInfo.Uploaded || HasOtherBlobOwner(sha256))
        {
            return 0;
        }

        var size = _blobs.SizeOf(sha256) ?? 0;
        return _blobs.Delete(sha256) ? size : 0;
    }

    /// <summary>Ids of queued or running inference tasks whose <c>data.model</c> is <paramref name="sha256"/>.</summary>
    public IReadOnlyList<string> TasksUsing(string sha256) =>
        [.. _tasks.LoadUnfinished()
            .Where(t => t.Spec.Type == InferenceRuntime.TaskType && ModelOf(t.Spec.Data) == sha256)
            .Select(t => t.TaskId)];

    private static string? ModelOf(JsonObject data) =>
        data["model"] is JsonValue v && v.TryGetValue<string>(out var text) ? text.ToLowerInvariant() : null;

    private ModelInfo? Registered(string sha256)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT sha256, size, inputs, outputs, source, created_at FROM models WHERE sha256=$sha;";
        command.Parameters.AddWithValue("$sha", sha256);
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        var model = Read(reader);
        _known[sha256] = model;
        return model;
    }

    private void Save(ModelInfo model)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO models (sha256, size, inputs, outputs, source, created_at) VALUES ($sha, $size, $inputs, $outputs, $source, $created)
            ON CONFLICT(sha256) DO UPDATE SET size=excluded.size, inputs=excluded.inputs, outputs=excluded.outputs, source=excluded.source;
            """;
        command.Parameters.AddWithValue("$sha", model.Sha256);
        command.Parameters.AddWithValue("$size", model.Size);
        command.Parameters.AddWithValue("$inputs", Serialize(model.Inputs));
        command.Parameters.AddWithValue("$outputs", Serialize(model.Outputs));
        command.Parameters.AddWithValue("$source", model.Source);
        command.Parameters.AddWithValue("$created", Timestamps.FormatPrecise(model.CreatedAt));
        command.ExecuteNonQuery();
        _known[model.Sha256] = model;
    }

    private bool HasOtherBlobOwner(string sha256)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM blobs WHERE sha256=$sha AND kind <> 'model';";
        command.Parameters.AddWithValue("$sha", sha256);
        return (long)command.ExecuteScalar()! > 0;
    }

    private static string Serialize(IReadOnlyList<ModelTensorInfo> tensors) =>
        new JsonArray([.. tensors.Select(t => (JsonNode)t.ToJson(withDimensionNames: true))]).ToJsonString();

    private static IReadOnlyList<ModelTensorInfo> Deserialize(string json) =>
        [.. JsonNode.Parse(json)!.AsArray().Select(t => ModelTensorInfo.FromJson(t!.AsObject()))];

    private static ModelInfo Read(SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetInt64(1),
        Deserialize(reader.GetString(2)),
        Deserialize(reader.GetString(3)),
        reader.GetString(4),
        DateTimeOffset.Parse(reader.GetString(5), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal));
}
