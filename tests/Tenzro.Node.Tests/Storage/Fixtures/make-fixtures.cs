#:project ../../../../src/Tenzro.Node.Core/Tenzro.Node.Core.csproj

// Makes the old database files of MigrationFixtureTests: `dotnet run make-fixtures.cs -- <directory>` (see README.md).
// Each file is a node database migrated only up to its version, holding three tasks written as that version stored them.
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;

var directory = args.Length > 0 ? args[0] : ".";
foreach (var version in new[] { 2L, 8L, 10L })
{
    var path = Path.Combine(directory, $"node-v{version}.db");
    File.Delete(path);
    var database = new NodeDatabase(path);
    database.Migrate([.. Migrations.All.Where(m => m.Version <= version)]);
    using (var connection = database.OpenConnection())
    {
        var submitted = DateTimeOffset.Parse("2025-06-01T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        var result = new JsonObject { ["sum"] = 42, ["label"] = $"stored at v{version}" }.ToJsonString();
        Insert(connection, version, Spec("stored-result", "answer"), "completed", 1, submitted, submitted.AddSeconds(1), submitted.AddSeconds(2), result);
        Insert(connection, version, Spec("waiting", $"queued at v{version}"), "queued", 0, submitted.AddSeconds(3), null, null, null);
        if (version >= 8)
        {
            Insert(connection, version, Spec("interrupted", $"running at v{version}"), "running", 1, submitted.AddSeconds(4), submitted.AddSeconds(5), null, null);
        }
    }

    database.Checkpoint();
    await database.DisposeAsync();
    Console.WriteLine($"{path}: schema version {version}");
}

static TaskSpec Spec(string taskId, string value) => new()
{
    TaskId = taskId,
    Type = "script",
    Timeout = TimeSpan.FromSeconds(60),
    Data = new JsonObject { ["action"] = "complete", ["value"] = value },
};

// Before version 9 (access control) neither the table nor the stored body had an owner, and the body had no requester.
static void Insert(SqliteConnection connection, long version, TaskSpec spec, string state, int attempts, DateTimeOffset submitted, DateTimeOffset? started, DateTimeOffset? finished, string? result)
{
    var body = JsonNode.Parse(TaskParser.ToStored(spec))!.AsObject();
    if (version < 9)
    {
        body.Remove("owner");
        body.Remove("requester");
    }

    string? digest = null;
    if (result is not null)
    {
        using var document = System.Text.Json.JsonDocument.Parse(result);
        result = CanonicalJson.ToCanonicalString(document.RootElement);
        digest = CanonicalJson.DigestOfCanonical(result);
    }

    using var command = connection.CreateCommand();
    var owner = version >= 9 ? ", owner" : "";
    command.CommandText = $"""
        INSERT INTO tasks(task_id, type, priority, state, origin, content_hash, body, attempts, progress, submitted_at, started_at, finished_at, expires_at, result, digest{owner})
        VALUES ($id, $type, 1, $state, 'api', $hash, $body, $attempts, $progress, $submitted, $started, $finished, $expires, $result, $digest{(version >= 9 ? ", 'anonymous-loopback'" : "")});
        """;
    command.Parameters.AddWithValue("$id", spec.TaskId);
    command.Parameters.AddWithValue("$type", spec.Type);
    command.Parameters.AddWithValue("$state", state);
    command.Parameters.AddWithValue("$hash", TaskParser.ContentHash(spec));
    command.Parameters.AddWithValue("$body", body.ToJsonString());
    command.Parameters.AddWithValue("$attempts", attempts);
    command.Parameters.AddWithValue("$progress", result is null ? 0 : 1);
    command.Parameters.AddWithValue("$submitted", Timestamps.Format(submitted));
    command.Parameters.AddWithValue("$started", started is { } s ? Timestamps.Format(s) : DBNull.Value);
    command.Parameters.AddWithValue("$finished", finished is { } f ? Timestamps.Format(f) : DBNull.Value);
    command.Parameters.AddWithValue("$expires", finished is { } e ? Timestamps.Format(e.AddYears(100)) : DBNull.Value);
    command.Parameters.AddWithValue("$result", (object?)result ?? DBNull.Value);
    command.Parameters.AddWithValue("$digest", (object?)digest ?? DBNull.Value);
    command.ExecuteNonQuery();
}
