using System.Text.Json.Nodes;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Tasks;

/// <summary>
/// The in-memory store answers as the SQLite store does: the same writes, in the same order, given to both, leave the
/// same tasks, pages, counts and byte totals behind (and the rules of the store hold in each).
/// </summary>
[Trait("Suite", "tasks")]
public sealed class TaskStoreContractTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly string _directory = TestNode.NewDirectory();
    private NodeDatabase _database = null!;
    private TaskStore _sqlite = null!;

    public Task InitializeAsync()
    {
        _database = new NodeDatabase(Path.Combine(_directory, "node.db"));
        _database.Migrate(Migrations.All);
        _sqlite = new TaskStore(_database);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _sqlite.DisposeAsync();
        await _database.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task SameWrites_BothStores_LeaveTheSameObservations()
    {
        var fromSqlite = await ObserveAsync(_sqlite);
        var fromMemory = await ObserveAsync(new MemoryTaskStore());

        Assert.Contains("unfinished b,e\n", fromSqlite[6], StringComparison.Ordinal);
        Assert.Contains("blob o1=True o2=False other=False", fromSqlite[6], StringComparison.Ordinal);
        Assert.Equal("expired a", fromSqlite[7]);
        Assert.Equal(fromSqlite, fromMemory);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("memory")]
    public async Task FinishAsync_EachStore_ReturnsTheRecordAGetReadsBack(string kind)
    {
        ITaskStore store = kind == "sqlite" ? _sqlite : new MemoryTaskStore();
        var inserted = Record("f", "script", "o1");
        await store.InsertAsync(inserted);
        await store.InsertAsync(Record("g", "script", "o1"));

        var finished = await store.FinishAsync(inserted.Spec, TaskState.Completed, Start.AddSeconds(2), Start.AddMinutes(1), """{"v":1}""", "digest-f", null, Start.AddSeconds(1), 1);
        var missing = await store.FinishAsync(Record("nowhere", "script", "o1").Spec, TaskState.Failed, Start, Start, null, null, "x");

        var read = store.Get("f")!;
        Assert.NotNull(finished);
        Assert.Equal(Observe(read), Observe(finished));
        Assert.Equal(TaskState.Completed, finished.State);
        Assert.Equal(1, finished.Progress);
        Assert.Equal(Start.AddSeconds(1), finished.StartedAt);
        Assert.Null(missing);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("memory")]
    public async Task InsertFinishedAsync_EachStore_StoresTheTaskEndedAndLeavesATakenIdAsItWas(string kind)
    {
        ITaskStore store = kind == "sqlite" ? _sqlite : new MemoryTaskStore();
        await store.InsertAsync(Record("taken", "script", "o1"));

        var finished = await store.InsertFinishedAsync(Record("new", "script", "o1"), TaskState.Completed, Start.AddSeconds(2), Start.AddMinutes(1), """{"v":2}""", "digest-n", null, Start.AddSeconds(1), 1);
        var refused = await store.InsertFinishedAsync(Record("taken", "script", "o2"), TaskState.Completed, Start.AddSeconds(2), Start.AddMinutes(1), """{"v":3}""", "digest-t", null, Start.AddSeconds(1), 1);

        var read = store.Get("new")!;
        Assert.NotNull(finished);
        Assert.Equal(Observe(read), Observe(finished));
        Assert.Equal((TaskState.Completed, 1, """{"v":2}"""), (read.State, read.Attempts, read.Result));
        Assert.Equal(Start.AddSeconds(1), read.StartedAt);
        Assert.Null(refused);
        var kept = store.Get("taken")!;
        Assert.Equal((TaskState.Queued, "o1", (string?)null), (kept.State, kept.Spec.Owner, kept.Result));
    }

    [Fact]
    public async Task FinishedRecord_ServedFromMemory_UntilItsRowChanges()
    {
        var spec = Record("h", "script", "o1").Spec;
        await _sqlite.InsertAsync(Record("h", "script", "o1"));
        await _sqlite.FinishAsync(spec, TaskState.Completed, Start.AddSeconds(1), Start.AddMinutes(1), """{"v":1}""", "digest-h", null, Start, 1);

        // A finished task's status is read from the database once, then served from memory; Get still reads the
        // database, so its caller owns the spec it gets (data and config included).
        var first = _sqlite.GetForStatus("h")!;
        Assert.Same(first, _sqlite.GetForStatus("h"));
        Assert.NotSame(first.Spec.Data, _sqlite.Get("h")!.Spec.Data);

        // Its result expires: the status shows the tombstone at once, not the kept record.
        Assert.Equal(["h"], await _sqlite.ExpireResultsAsync(Start.AddMinutes(2)));
        var tombstone = _sqlite.GetForStatus("h")!;
        Assert.Null(tombstone.Result);
        Assert.Equal("{}", tombstone.Spec.Data.ToJsonString());

        // Written again (a final state stored twice): the new one is what a read sees.
        await _sqlite.MarkFinishedAsync("h", TaskState.Failed, Start.AddMinutes(3), Start.AddMinutes(4), null, null, "again");
        Assert.Equal("again", _sqlite.GetForStatus("h")!.Error);

        // Purged: unknown.
        await _sqlite.ExpireResultsAsync(Start.AddMinutes(5));
        Assert.Equal(1, await _sqlite.PurgeTombstonesAsync(Start.AddMinutes(6)));
        Assert.Null(_sqlite.GetForStatus("h"));
    }

    [Fact]
    public async Task TaskThatWaitedInTheQueue_KeepsItsDataWhenItEnds_AndItsStatusReadsTheEnd()
    {
        // The queue holds a task without its data; the end of a task that waited there must not be stored or handed out
        // from that copy (validate re-runs a task from its stored record).
        await using var kit = await EngineKit.StartAsync(_sqlite, slots: 1);
        await kit.SubmitAsync("first", new JsonObject { ["action"] = "gate", ["gate"] = "g" });
        await kit.SubmitAsync("waited", new JsonObject { ["action"] = "complete", ["note"] = "kept" });
        Assert.True(await EngineKit.EventuallyAsync(() => kit.Engine.View("waited")?.Record.State == TaskState.Queued));

        kit.Runtime.Open("g");
        var waited = await kit.Engine.WaitAsync("waited", Timeouts.Short, Timeouts.Token());

        Assert.Equal(TaskState.Completed, waited!.State);
        Assert.Equal("kept", waited.Spec.Data["note"]!.GetValue<string>());
        Assert.Equal("kept", kit.Engine.Get("waited")!.Spec.Data["note"]!.GetValue<string>());
        Assert.Equal(TaskState.Completed, kit.Engine.View("waited")!.Record.State);
    }

    [Fact]
    public async Task RequeuedTask_IsNotServedAsFinished()
    {
        var spec = Record("r", "script", "o1").Spec;
        await _sqlite.InsertAsync(Record("r", "script", "o1"));
        await _sqlite.FinishAsync(spec, TaskState.Failed, Start.AddSeconds(1), Start.AddMinutes(1), null, null, "x");
        Assert.Equal(TaskState.Failed, _sqlite.GetForStatus("r")!.State);

        await _sqlite.RequeueAsync("r", 2);

        Assert.Equal(TaskState.Queued, _sqlite.GetForStatus("r")!.State);
    }

    private static string Observe(TaskRecord r) =>
        $"{r.TaskId} {r.Spec.Type} {r.Spec.Owner} {r.Spec.Data.ToJsonString()} {r.ContentHash} {r.State} {r.Attempts} {r.Progress} {r.SubmittedAt:O} {r.StartedAt:O} {r.FinishedAt:O} {r.ExpiresAt:O} {r.Error} {r.Result} {r.Digest} {r.Sequence}";

    [Theory]
    [InlineData("sqlite")]
    [InlineData("memory")]
    public async Task Rules_EachStore_KeepsFinalStatesAndTombstones(string kind)
    {
        ITaskStore store = kind == "sqlite" ? _sqlite : new MemoryTaskStore();
        await store.InsertAsync(Record("a", "script", "o1"));
        var duplicate = await store.InsertAsync(Record("a", "script", "o1"));
        await store.MarkRunningAsync("a", Start, 1);
        await store.MarkFinishedAsync("a", TaskState.Completed, Start.AddSeconds(1), Start.AddMinutes(1), """{"v":1}""", "d", null);
        await store.MarkRunningAsync("a", Start.AddSeconds(2), 2);
        var final = store.Get("a")!;
        var expired = await store.ExpireResultsAsync(Start.AddMinutes(2));
        var tombstone = store.Get("a")!;
        var purged = await store.PurgeTombstonesAsync(Start.AddMinutes(3));

        Assert.False(duplicate);
        Assert.Equal(TaskState.Completed, final.State);
        Assert.Equal(1, final.Attempts);
        Assert.Equal(1, final.Progress);
        Assert.Equal(["a"], expired);
        Assert.Null(tombstone.Result);
        Assert.Empty(tombstone.Spec.Data);
        Assert.Equal(1, purged);
        Assert.Null(store.Get("a"));
    }

    /// <summary>Runs one sequence of writes on <paramref name="store"/> and writes down everything a reader can see.</summary>
    private static async Task<List<string>> ObserveAsync(ITaskStore store)
    {
        var seen = new List<string>();
        foreach (var (id, type, owner) in new[] { ("a", "script", "o1"), ("b", "script", "o1"), ("c", "store", "o1"), ("d", "store", "o2"), ("e", "script", "o2") })
        {
            seen.Add($"insert {id} {await store.InsertAsync(Record(id, type, owner))}");
        }

        seen.Add($"insert again {await store.InsertAsync(Record("a", "script", "o1"))}");
        await store.MarkRunningAsync("a", Start.AddSeconds(1), 1);
        await store.SetProgressAsync("a", 0.25);
        await store.SetProgressAsync("e", 0.5);
        await store.MarkFinishedAsync("a", TaskState.Completed, Start.AddSeconds(2), Start.AddMinutes(1), """{"v":1}""", "digest-a", null);
        await store.MarkRunningAsync("a", Start.AddSeconds(3), 2);
        await store.MarkRunningAsync("b", Start.AddSeconds(1), 1);
        await store.SetProgressAsync("b", 0.5);
        await store.RequeueAsync("b", 0);
        await store.MarkFinishedAsync("c", TaskState.Completed, Start.AddSeconds(4), Start.AddMinutes(5), """{"sha256":"abc","size":3}""", "digest-c", null, Start.AddSeconds(3), 1);
        await store.MarkFinishedAsync("d", TaskState.Failed, Start.AddSeconds(4), Start.AddMinutes(5), null, null, "broke", Start.AddSeconds(3), 1);
        await store.MarkRunningAsync("e", Start.AddSeconds(5), 1);
        seen.Add(Observe(store));

        seen.Add($"expired {string.Join(",", await store.ExpireResultsAsync(Start.AddMinutes(2)))}");
        seen.Add(Observe(store));
        seen.Add($"purged {await store.PurgeTombstonesAsync(Start.AddMinutes(10))}");
        seen.Add(Observe(store));
        return seen;
    }

    private static string Observe(ITaskStore store)
    {
        var lines = new List<string>();
        foreach (var id in new[] { "a", "b", "c", "d", "e", "unknown" })
        {
            lines.Add(store.Get(id) is { } r ? Describe(r) : $"{id} none");
        }

        lines.Add("unfinished " + string.Join(",", store.LoadUnfinished().Select(r => r.TaskId)));
        var first = store.List(null, null, 2, null);
        var second = store.List(null, null, 2, first.NextCursor);
        lines.Add($"pages {string.Join(",", first.Items.Select(r => r.TaskId))} next={first.NextCursor} then {string.Join(",", second.Items.Select(r => r.TaskId))} next={second.NextCursor}");
        lines.Add("completed " + string.Join(",", store.List(TaskState.Completed, null, 10, null).Items.Select(r => r.TaskId)));
        lines.Add("store " + string.Join(",", store.List(null, "store", 10, null).Items.Select(r => r.TaskId)));
        lines.Add($"blob o1={store.StoredBlob(["o1"], "abc")} o2={store.StoredBlob(["o2"], "abc")} other={store.StoredBlob(["o1", "o2"], "def")}");
        lines.Add($"bytes {store.StoredBytes()}");
        lines.Add($"counts {store.Counts()}");
        return string.Join("\n", lines);
    }

    private static string Describe(TaskRecord r) =>
        $"{r.TaskId} #{r.Sequence} {r.State.ToWire()} attempts={r.Attempts} progress={r.Progress} submitted={r.SubmittedAt:O} started={r.StartedAt:O} " +
        $"finished={r.FinishedAt:O} expires={r.ExpiresAt:O} error={r.Error} result={r.Result} digest={r.Digest} hash={r.ContentHash} body={TaskParser.ToStored(r.Spec)}";

    private static TaskRecord Record(string taskId, string type, string owner)
    {
        var spec = new TaskSpec
        {
            TaskId = taskId,
            Type = type,
            Timeout = TimeSpan.FromSeconds(30),
            Owner = owner,
            Data = new JsonObject { ["content"] = $"payload of {taskId} ü" },
        };
        return new TaskRecord { Spec = spec, ContentHash = TaskParser.ContentHash(spec), SubmittedAt = Start };
    }
}
