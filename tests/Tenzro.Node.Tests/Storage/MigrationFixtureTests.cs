using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Tests.Support;
using Tenzro.Node.Tests.Tasks;

namespace Tenzro.Node.Tests.Storage;

/// <summary>
/// Databases written at older schema versions (Storage/Fixtures, made as its README says) are migrated by the current
/// node, and their tasks stay readable through the store and are picked up again by the engine.
/// </summary>
[Trait("Suite", "store")]
public sealed class MigrationFixtureTests : IDisposable
{
    private readonly string _directory = TestNode.NewDirectory();

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData(2)]
    [InlineData(8)]
    [InlineData(10)]
    public async Task Migrate_OldDatabase_ReachesTheCurrentVersionAfterABackupAndKeepsTheStoredResult(long version)
    {
        await using var database = Open(version, out var before);

        var backup = database.Migrate(Migrations.All, Path.Combine(_directory, "backups"));
        await using var store = new TaskStore(database);
        var stored = store.Get("stored-result");

        using var connection = database.OpenConnection();
        Assert.Equal(version, before);
        Assert.Equal(Migrations.All.Max(m => m.Version), NodeDatabase.CurrentVersion(connection));
        Assert.True(File.Exists(backup));
        Assert.NotNull(stored);
        Assert.Equal(TaskState.Completed, stored.State);
        Assert.Equal($$"""{"label":"stored at v{{version}}","sum":42}""", stored.Result);
        Assert.Equal(Core.Json.CanonicalJson.DigestOfCanonical(stored.Result!), stored.Digest);
        Assert.Equal(TaskOwners.AnonymousLoopback, stored.Spec.Owner);
        Assert.Equal("answer", stored.Spec.Data["value"]!.GetValue<string>());
        Assert.Equal(DateTimeOffset.Parse("2025-06-01T10:00:02Z", System.Globalization.CultureInfo.InvariantCulture), stored.FinishedAt);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(8)]
    [InlineData(10)]
    public async Task Start_OldDatabaseMigrated_EngineRunsTheQueuedTaskAndRequeuesTheInterruptedOne(long version)
    {
        await using var database = Open(version, out _);
        database.Migrate(Migrations.All);
        await using var store = new TaskStore(database);

        await using (var kit = await EngineKit.StartAsync(store))
        {
            var waiting = await kit.FinalAsync("waiting");
            var interrupted = version >= 8 ? await kit.FinalAsync("interrupted") : null;
            var untouched = kit.Engine.View("stored-result")!;

            Assert.Equal(TaskState.Completed, waiting.State);
            Assert.Equal($$"""{"value":"queued at v{{version}}"}""", waiting.Record.Result);
            Assert.Equal(1, waiting.Record.Attempts);
            Assert.Equal(TaskState.Completed, untouched.State);
            Assert.Equal(1, untouched.Record.Attempts);
            if (interrupted is not null)
            {
                Assert.Equal(TaskState.Completed, interrupted.State);
                Assert.Equal($$"""{"value":"running at v{{version}}"}""", interrupted.Record.Result);
                Assert.Equal(2, interrupted.Record.Attempts);
            }
        }
    }

    /// <summary>Copies the fixture of <paramref name="version"/> and opens the copy; <paramref name="before"/> is its version as found.</summary>
    private NodeDatabase Open(long version, out long before)
    {
        var path = Path.Combine(_directory, $"node-v{version}.db");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Storage", "Fixtures", $"node-v{version}.db"), path);
        var database = new NodeDatabase(path);
        using var connection = database.OpenConnection();
        before = NodeDatabase.CurrentVersion(connection);
        return database;
    }
}
