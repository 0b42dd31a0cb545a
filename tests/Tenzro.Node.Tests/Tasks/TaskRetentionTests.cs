using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Tasks;

/// <summary>What the store keeps of a finished task over time: the result, then a tombstone (410), then nothing (404).</summary>
[Trait("Suite", "tasks")]
public sealed class TaskRetentionTests : IAsyncLifetime
{
    private readonly string _directory = TestNode.NewDirectory();
    private TaskStore _store = null!;

    public Task InitializeAsync()
    {
        var database = new NodeDatabase(Path.Combine(_directory, "node.db"));
        database.Migrate(Migrations.All);
        _store = new TaskStore(database);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Purge_TombstonesPastTheCutoff_AreDeleted_AndNewerTombstonesAndLiveResultsStay()
    {
        var start = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        await FinishAsync("old", start, expiresAt: start.AddMinutes(1));
        await FinishAsync("recent", start, expiresAt: start.AddMinutes(10));
        await FinishAsync("kept", start, expiresAt: start.AddHours(1));
        await _store.ExpireResultsAsync(start.AddMinutes(20)).WaitAsync(Timeouts.Short);

        var purged = await _store.PurgeTombstonesAsync(start.AddMinutes(5)).WaitAsync(Timeouts.Short);

        Assert.Equal(1, purged);
        Assert.Null(_store.Get("old"));
        Assert.True(_store.Get("recent")!.ExpiresAt < start.AddMinutes(20));
        Assert.Null(_store.Get("recent")!.Result);
        Assert.Equal("""{"n":1}""", _store.Get("kept")!.Result);
    }

    [Fact]
    public async Task Purge_NeverDeletesAResultThatHasNotExpired_EvenPastTheCutoff()
    {
        var start = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        await FinishAsync("not-swept-yet", start, expiresAt: start.AddMinutes(1));

        var purged = await _store.PurgeTombstonesAsync(start.AddHours(1)).WaitAsync(Timeouts.Short);

        Assert.Equal(0, purged);
        Assert.Equal("""{"n":1}""", _store.Get("not-swept-yet")!.Result);
    }

    private async Task FinishAsync(string taskId, DateTimeOffset at, DateTimeOffset expiresAt)
    {
        var spec = new TaskSpec { TaskId = taskId, Type = "store", Data = [], Config = [], Timeout = TimeSpan.FromMinutes(1), Origin = TaskOrigins.Api };
        await _store.InsertAsync(new TaskRecord { Spec = spec, ContentHash = TaskParser.ContentHash(spec), SubmittedAt = at }).WaitAsync(Timeouts.Short);
        await _store.MarkFinishedAsync(taskId, TaskState.Completed, at, expiresAt, """{"n":1}""", new string('a', 64), null).WaitAsync(Timeouts.Short);
    }
}
