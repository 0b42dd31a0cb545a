using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Tasks;

/// <summary>
/// A task that can start the moment it is submitted is stored as started by its submission's own commit (its attempt
/// counted, for a runtime that may crash the process), so a short task costs two commits, its submission and its end;
/// a task that must wait is stored as queued and counts its attempt when it starts, as before.
/// </summary>
[Trait("Suite", "tasks")]
public sealed class StartAtSubmissionTests
{
    private static JsonObject Gate(string gate) => new() { ["action"] = "gate", ["gate"] = gate };

    [Fact]
    public async Task Submit_IdleEngine_StoresTheStartWithTheSubmissionAndWritesNoRunningMarkOfItsOwn()
    {
        var store = new FailingTaskStore(new MemoryTaskStore());
        store.Fail(nameof(ITaskStore.MarkRunningAsync), () => new IOException("a separate running mark was written"));
        await using var kit = await EngineKit.StartAsync(store);

        var outcome = await kit.SubmitAsync("at-once", Gate("at-once"));
        var stored = store.Get("at-once")!;
        Assert.True(await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Contains("at-once")));
        kit.Runtime.Open("at-once");
        var final = await kit.FinalAsync("at-once");

        Assert.Equal(AdmissionStatus.Accepted, outcome.Status);
        Assert.Equal((TaskState.Running, 1), (stored.State, stored.Attempts));
        Assert.NotNull(stored.StartedAt);
        Assert.Equal(TaskState.Completed, final.State);
        Assert.Equal(1, final.Record.Attempts);
        Assert.Equal(stored.StartedAt, final.Record.StartedAt);
        Assert.False(store.Refused.ContainsKey(nameof(ITaskStore.MarkRunningAsync)));
    }

    [Fact]
    public async Task Submit_SlotTaken_StoresTheTaskQueuedAndCountsItsAttemptWhenItStarts()
    {
        await using var kit = await EngineKit.StartAsync(slots: 1);
        await kit.SubmitAsync("blocker", Gate("blocker"));
        Assert.True(await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Contains("blocker")));

        await kit.SubmitAsync("waiting", Gate("waiting"));
        var queued = kit.Store.Get("waiting")!;
        kit.Runtime.Open("blocker");
        Assert.True(await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Contains("waiting")));
        var started = kit.Store.Get("waiting")!;
        kit.Runtime.Open("waiting");
        var final = await kit.FinalAsync("waiting");

        Assert.Equal((TaskState.Queued, 0), (queued.State, queued.Attempts));
        Assert.Equal((TaskState.Running, 1), (started.State, started.Attempts));
        Assert.Equal(TaskState.Completed, final.State);
    }

    [Fact]
    public async Task Submit_SubmissionWriteFails_GivesBackTheSlotAndTheReservation()
    {
        var store = new FailingTaskStore(new MemoryTaskStore());
        await using var kit = await EngineKit.StartAsync(store, slots: 1);
        store.Fail(nameof(ITaskStore.InsertAsync), () => new IOException("the disk went away"));

        await Assert.ThrowsAsync<IOException>(() => kit.SubmitAsync("lost", Gate("lost")));
        var runningAfterFailure = kit.Engine.RunningCount;
        var reservationsAfterFailure = kit.Ledger.Reservations.Count;
        store.Heal();
        await kit.SubmitAsync("next", new JsonObject { ["action"] = "complete", ["value"] = "ok" });
        var next = await kit.FinalAsync("next");

        Assert.Equal(0, runningAfterFailure);
        Assert.Equal(0, reservationsAfterFailure);
        Assert.Null(kit.Engine.View("lost"));
        Assert.DoesNotContain("lost", kit.Runtime.Started);
        Assert.Equal(TaskState.Completed, next.State);
    }

    [Fact]
    public async Task Submit_SameTaskAgainWhileItRuns_AnswersTheExistingTaskAndKeepsOneRun()
    {
        await using var kit = await EngineKit.StartAsync();
        await kit.SubmitAsync("twice", Gate("twice"));
        Assert.True(await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Contains("twice")));

        var again = await kit.SubmitAsync("twice", Gate("twice"));
        var reservations = kit.Ledger.Reservations.Count;
        kit.Runtime.Open("twice");
        var final = await kit.FinalAsync("twice");

        Assert.Equal(AdmissionStatus.Existing, again.Status);
        Assert.Equal(TaskState.Running, again.View!.State);
        Assert.Equal(1, reservations);
        Assert.Equal(TaskState.Completed, final.State);
        Assert.Single(kit.Runtime.Started, "twice");
    }

    [Fact]
    public async Task Submit_RuntimeThatStartsBeforeStored_RunsWhileTheSubmissionCommitsAndWritesAndAnnouncesItsEndAfter()
    {
        var store = new FailingTaskStore(new MemoryTaskStore());
        await using var kit = await EngineKit.StartAsync(store, 4, new ScriptedRuntime { StartsBeforeStored = true });
        using var events = kit.Engine.Events.Subscribe("early");
        store.Hold(nameof(ITaskStore.InsertAsync));

        var submission = kit.SubmitAsync("early", Gate("early"));
        var ranBeforeStored = await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Contains("early"));
        kit.Runtime.Open("early");
        await Task.Delay(50, Timeouts.Token());
        var storedWhileHeld = store.Get("early");
        var acknowledgedWhileHeld = submission.IsCompleted;
        var writtenWhileHeld = store.Written.Keys.ToArray();
        store.Let(nameof(ITaskStore.InsertAsync));
        var outcome = await submission.WaitAsync(Timeouts.Short);
        var final = await kit.FinalAsync("early");

        Assert.True(ranBeforeStored);
        Assert.Null(storedWhileHeld);
        Assert.False(acknowledgedWhileHeld);
        Assert.Equal(AdmissionStatus.Accepted, outcome.Status);
        Assert.Equal(TaskState.Completed, final.State);
        Assert.Equal(TaskState.Completed, store.Get("early")!.State);
        Assert.Equal(1, store.Written.GetValueOrDefault(nameof(ITaskStore.InsertAsync)));
        Assert.Empty(writtenWhileHeld);
        var firstEvent = await events.Reader.ReadAsync(Timeouts.Token());
        Assert.Equal(("state", (TaskState?)TaskState.Queued), (firstEvent.Kind, firstEvent.State));
        Assert.Equal([TaskState.Running, TaskState.Completed], await StatesAsync(events, 2));
    }

    [Fact]
    public async Task Submit_StartedBeforeStored_IdTakenMeanwhile_StopsTheRunAndKeepsTheStoredTask()
    {
        var memory = new MemoryTaskStore();
        var store = new FailingTaskStore(memory);
        await using var kit = await EngineKit.StartAsync(store, 1, new ScriptedRuntime { StartsBeforeStored = true });
        using var events = kit.Engine.Events.Subscribe("taken");
        store.Hold(nameof(ITaskStore.InsertAsync));

        var second = kit.SubmitAsync("taken", Gate("never-opened"));
        var started = await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Contains("taken"));
        // Another writer stores a task of the same id while this submission's write is held.
        var other = new TaskRecord
        {
            Spec = new TaskSpec { TaskId = "taken", Type = "script", Timeout = TimeSpan.FromMinutes(1), Data = new JsonObject { ["action"] = "complete" } },
            ContentHash = "other",
            SubmittedAt = kit.Time.GetUtcNow(),
            State = TaskState.Queued,
        };
        await memory.InsertAsync(other);
        store.Let(nameof(ITaskStore.InsertAsync));
        var outcome = await second.WaitAsync(Timeouts.Short);
        var released = await EngineKit.EventuallyAsync(() => kit.Engine.RunningCount == 0 && kit.Ledger.Reservations.Count == 0);
        await kit.SubmitAsync("next", new JsonObject { ["action"] = "complete", ["value"] = "ok" });
        var next = await kit.FinalAsync("next");

        Assert.True(started);
        Assert.Equal(AdmissionStatus.Conflict, outcome.Status);
        Assert.True(released);
        var kept = store.Get("taken")!;
        Assert.Equal((TaskState.Queued, "other", (string?)null), (kept.State, kept.ContentHash, kept.Result));
        Assert.False(events.Reader.TryRead(out var announced), $"the dropped run announced {announced}");
        Assert.Equal(TaskState.Completed, next.State);
    }

    [Fact]
    public async Task Submit_RuntimeThatPreparesBeforeStored_GetsTheRunWhileTheSubmissionCommitsAndRunsNoneOfItBeforeTheAttemptIsStored()
    {
        var store = new FailingTaskStore(new MemoryTaskStore());
        store.Fail(nameof(ITaskStore.MarkRunningAsync), () => new IOException("a separate running mark was written"));
        var runtime = new ScriptedRuntime { PreparesBeforeStored = true, Store = store };
        await using var kit = await EngineKit.StartAsync(store, 4, runtime);
        using var events = kit.Engine.Events.Subscribe("prepared");
        store.Hold(nameof(ITaskStore.InsertAsync));

        var submission = kit.SubmitAsync("prepared", Gate("prepared"));
        var preparedWhileHeld = await EngineKit.EventuallyAsync(() => runtime.Prepared.Contains("prepared"));
        await Task.Delay(50, Timeouts.Token());
        var startedWhileHeld = runtime.Started.Contains("prepared");
        var announcedWhileHeld = events.Reader.TryRead(out _);
        store.Let(nameof(ITaskStore.InsertAsync));
        var outcome = await submission.WaitAsync(Timeouts.Short);
        var started = await EngineKit.EventuallyAsync(() => runtime.Started.Contains("prepared"));
        runtime.Open("prepared");
        var final = await kit.FinalAsync("prepared");

        Assert.True(preparedWhileHeld);
        Assert.False(startedWhileHeld);
        Assert.False(announcedWhileHeld);
        Assert.Equal(AdmissionStatus.Accepted, outcome.Status);
        Assert.True(started);
        Assert.True(runtime.StoredAtStart["prepared"], "the task's code ran before its attempt was stored");
        Assert.Equal((TaskState.Completed, 1), (final.State, final.Record.Attempts));
        Assert.Equal(1, store.Written.GetValueOrDefault(nameof(ITaskStore.InsertAsync)));
        Assert.False(store.Written.ContainsKey(nameof(ITaskStore.InsertFinishedAsync)));
        Assert.False(store.Refused.ContainsKey(nameof(ITaskStore.MarkRunningAsync)));
        Assert.Equal([TaskState.Queued, TaskState.Running, TaskState.Completed], await StatesAsync(events, 3));
    }

    [Fact]
    public async Task Submit_PreparedBeforeStored_WaitsForEnd_WritesTheSubmissionAtOnceWithoutWaitingForTheEnd()
    {
        var store = new FailingTaskStore(new MemoryTaskStore());
        var runtime = new ScriptedRuntime { PreparesBeforeStored = true, Store = store };
        await using var kit = await EngineKit.StartAsync(store, 4, runtime);

        // The engine's clock stands still: a submitter that gave this run a grace to end would never answer.
        var outcome = await kit.SubmitAsync("no-grace", Gate("no-grace"), waitsForEnd: true).WaitAsync(Timeouts.Short);
        var started = await EngineKit.EventuallyAsync(() => runtime.Started.Contains("no-grace"));
        runtime.Open("no-grace");
        var final = await kit.FinalAsync("no-grace");

        Assert.Equal(AdmissionStatus.Accepted, outcome.Status);
        Assert.True(started);
        Assert.True(runtime.StoredAtStart["no-grace"]);
        Assert.Equal(TaskState.Completed, final.State);
        Assert.False(store.Written.ContainsKey(nameof(ITaskStore.InsertFinishedAsync)));
    }

    [Fact]
    public async Task Submit_PreparedBeforeStored_CancelledWhileItsSubmissionCommits_EndsCancelledWithoutRunning()
    {
        var store = new FailingTaskStore(new MemoryTaskStore());
        var runtime = new ScriptedRuntime { PreparesBeforeStored = true };
        await using var kit = await EngineKit.StartAsync(store, 4, runtime);
        store.Hold(nameof(ITaskStore.InsertAsync));

        var submission = kit.SubmitAsync("cancelled", Gate("never-opened"));
        var prepared = await EngineKit.EventuallyAsync(() => runtime.Prepared.Contains("cancelled"));
        var cancelled = await kit.Engine.CancelAsync("cancelled");
        store.Let(nameof(ITaskStore.InsertAsync));
        var outcome = await submission.WaitAsync(Timeouts.Short);
        var final = await kit.FinalAsync("cancelled");

        Assert.True(prepared);
        Assert.True(cancelled);
        Assert.Equal(AdmissionStatus.Accepted, outcome.Status);
        Assert.Equal(TaskState.Cancelled, final.State);
        Assert.Equal(TaskState.Cancelled, store.Get("cancelled")!.State);
        Assert.DoesNotContain("cancelled", runtime.Started);
        Assert.True(await EngineKit.EventuallyAsync(() => kit.Engine.RunningCount == 0 && kit.Ledger.Reservations.Count == 0));
    }

    [Fact]
    public async Task Submit_PreparedBeforeStored_IdTakenMeanwhile_StopsTheRunBeforeAnyOfItsCodeRuns()
    {
        var memory = new MemoryTaskStore();
        var store = new FailingTaskStore(memory);
        var runtime = new ScriptedRuntime { PreparesBeforeStored = true };
        await using var kit = await EngineKit.StartAsync(store, 1, runtime);
        using var events = kit.Engine.Events.Subscribe("taken");
        store.Hold(nameof(ITaskStore.InsertAsync));

        var submission = kit.SubmitAsync("taken", new JsonObject { ["action"] = "complete", ["value"] = "mine" });
        var prepared = await EngineKit.EventuallyAsync(() => runtime.Prepared.Contains("taken"));
        await memory.InsertAsync(new TaskRecord
        {
            Spec = new TaskSpec { TaskId = "taken", Type = "script", Timeout = TimeSpan.FromMinutes(1), Data = new JsonObject { ["action"] = "complete" } },
            ContentHash = "other",
            SubmittedAt = kit.Time.GetUtcNow(),
            State = TaskState.Queued,
        });
        store.Let(nameof(ITaskStore.InsertAsync));
        var outcome = await submission.WaitAsync(Timeouts.Short);
        var released = await EngineKit.EventuallyAsync(() => kit.Engine.RunningCount == 0 && kit.Ledger.Reservations.Count == 0);

        Assert.True(prepared);
        Assert.Equal(AdmissionStatus.Conflict, outcome.Status);
        Assert.True(released);
        Assert.DoesNotContain("taken", runtime.Started);
        var kept = store.Get("taken")!;
        Assert.Equal((TaskState.Queued, "other", (string?)null), (kept.State, kept.ContentHash, kept.Result));
        Assert.False(events.Reader.TryRead(out var announced), $"the dropped run announced {announced}");
    }

    [Theory]
    [InlineData("starts before stored")]
    [InlineData("waits at its gate")]
    [InlineData("starts once stored")]
    public async Task Submit_IdStoredAlready_StartsNothingAndHoldsNoSlot(string kind)
    {
        var store = new FailingTaskStore(new MemoryTaskStore());
        var runtime = kind switch
        {
            "starts before stored" => new ScriptedRuntime { StartsBeforeStored = true },
            "waits at its gate" => new ScriptedRuntime { PreparesBeforeStored = true },
            _ => new ScriptedRuntime(),
        };
        await using var kit = await EngineKit.StartAsync(store, 1, runtime);
        await kit.SubmitAsync("again", new JsonObject { ["action"] = "complete", ["value"] = "first" });
        await kit.FinalAsync("again");

        // The write that refuses the resubmission is held, so that an early run would have all the time to reach its runtime.
        store.Hold(nameof(ITaskStore.InsertAsync));
        var resubmission = kit.SubmitAsync("again", new JsonObject { ["action"] = "complete", ["value"] = "first" }, waitsForEnd: true);
        await Task.Delay(100, Timeouts.Token());
        var heldASlot = kit.Engine.IsRunning("again");
        var waited = await kit.Engine.WaitAsync("again", TimeSpan.FromSeconds(5), CancellationToken.None).WaitAsync(Timeouts.Short);
        store.Let(nameof(ITaskStore.InsertAsync));
        var same = await resubmission.WaitAsync(Timeouts.Short);
        var other = await kit.SubmitAsync("again", new JsonObject { ["action"] = "complete", ["value"] = "other" }, waitsForEnd: true);

        Assert.False(heldASlot, "the resubmission held a run slot under the stored task's id");
        Assert.Equal(TaskState.Completed, waited?.State);
        Assert.Equal(AdmissionStatus.Existing, same.Status);
        Assert.Equal(AdmissionStatus.Conflict, other.Status);
        Assert.Single(runtime.Prepared, "again");
        Assert.Single(runtime.Started, "again");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Submit_EarlyRun_SubmissionWriteFails_StopsTheRunAndGivesBackTheSlot(bool waitsAtItsGate)
    {
        var store = new FailingTaskStore(new MemoryTaskStore());
        var runtime = waitsAtItsGate ? new ScriptedRuntime { PreparesBeforeStored = true } : new ScriptedRuntime { StartsBeforeStored = true };
        await using var kit = await EngineKit.StartAsync(store, 1, runtime);
        store.Hold(nameof(ITaskStore.InsertAsync));
        store.Fail(nameof(ITaskStore.InsertAsync), () => new IOException("the disk went away"));

        var lost = kit.SubmitAsync("lost", Gate("lost"));
        var reached = await EngineKit.EventuallyAsync(() => runtime.Prepared.Contains("lost"));
        store.Let(nameof(ITaskStore.InsertAsync));
        await Assert.ThrowsAsync<IOException>(() => lost.WaitAsync(Timeouts.Short));
        var released = await EngineKit.EventuallyAsync(() => kit.Engine.RunningCount == 0 && kit.Ledger.Reservations.Count == 0);
        store.Heal();
        await kit.SubmitAsync("next", new JsonObject { ["action"] = "complete", ["value"] = "ok" });
        var next = await kit.FinalAsync("next");

        Assert.True(reached);
        Assert.True(released);
        // A run that waits at its gate runs none of the task; one that starts before stored has run it.
        Assert.Equal(!waitsAtItsGate, runtime.Started.Contains("lost"));
        Assert.Null(kit.Engine.View("lost"));
        Assert.Null(store.Get("lost"));
        Assert.Equal(TaskState.Completed, next.State);
    }

    [Fact]
    public async Task Submit_WaitsForEnd_RunEndsFirst_WritesTheSubmissionWithItsEndInOneWrite()
    {
        var store = new FailingTaskStore(new MemoryTaskStore());
        await using var kit = await EngineKit.StartAsync(store, 4, new ScriptedRuntime { StartsBeforeStored = true });
        using var events = kit.Engine.Events.Subscribe("together");

        // The run ends while its submitter waits (the grace is on the engine's fake clock, which stands still).
        var submission = kit.SubmitAsync("together", Gate("together"), waitsForEnd: true);
        var started = await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Contains("together"));
        var answeredBeforeTheEnd = submission.IsCompleted;
        kit.Runtime.Open("together");
        var outcome = await submission.WaitAsync(Timeouts.Short);
        var stored = store.Get("together")!;

        Assert.True(started);
        Assert.False(answeredBeforeTheEnd);
        Assert.Equal(AdmissionStatus.Accepted, outcome.Status);
        Assert.Equal(TaskState.Completed, outcome.View!.State);
        Assert.Equal((TaskState.Completed, 1), (stored.State, stored.Attempts));
        Assert.Equal(1, store.Written.GetValueOrDefault(nameof(ITaskStore.InsertFinishedAsync)));
        Assert.False(store.Written.ContainsKey(nameof(ITaskStore.InsertAsync)));
        Assert.False(store.Written.ContainsKey(nameof(ITaskStore.MarkFinishedAsync)));
        Assert.Equal([TaskState.Queued, TaskState.Running, TaskState.Completed], await StatesAsync(events, 3));
        Assert.True(await EngineKit.EventuallyAsync(() => kit.Engine.RunningCount == 0 && kit.Ledger.Reservations.Count == 0));
    }

    [Fact]
    public async Task Submit_WaitsForEnd_RunLongerThanTheGrace_WritesTheSubmissionAloneAndTheEndLater()
    {
        var store = new FailingTaskStore(new MemoryTaskStore());
        await using var kit = await EngineKit.StartAsync(store, 4, new ScriptedRuntime { StartsBeforeStored = true });

        var submission = kit.SubmitAsync("long", Gate("long"), waitsForEnd: true);
        var deadline = DateTime.UtcNow + Timeouts.Short;
        while (!submission.IsCompleted && DateTime.UtcNow < deadline)
        {
            // The grace runs on the engine's (fake) clock.
            kit.Time.Advance(TaskEngine.SubmissionWithEndWithin);
            await Task.Delay(5);
        }

        var outcome = await submission.WaitAsync(Timeouts.Short);
        var storedWhileRunning = store.Get("long")!;
        kit.Runtime.Open("long");
        var final = await kit.FinalAsync("long");

        Assert.Equal(AdmissionStatus.Accepted, outcome.Status);
        Assert.Equal(TaskState.Queued, storedWhileRunning.State);
        Assert.Equal(TaskState.Completed, final.State);
        Assert.Equal(1, store.Written.GetValueOrDefault(nameof(ITaskStore.InsertAsync)));
        Assert.False(store.Written.ContainsKey(nameof(ITaskStore.InsertFinishedAsync)));
    }

    [Fact]
    public async Task Submit_WaitsForEnd_SameIdSubmittedMeanwhile_TheRunIsDroppedAndTheStoredTaskRunsAfterIt()
    {
        var store = new FailingTaskStore(new MemoryTaskStore());
        await using var kit = await EngineKit.StartAsync(store, 2, new ScriptedRuntime { StartsBeforeStored = true });

        // The first submission's run waits on its gate, its submitter on the grace (the fake clock stands still).
        var first = kit.SubmitAsync("dup", Gate("dup-first"), waitsForEnd: true);
        var firstStarted = await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Contains("dup"));
        var second = await kit.SubmitAsync("dup", new JsonObject { ["action"] = "gate", ["gate"] = "dup-second", ["value"] = "second" });
        var secondStartedBesideTheFirst = await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Count(id => id == "dup") > 1, TimeSpan.FromMilliseconds(300));
        kit.Runtime.Open("dup-first");
        var outcome = await first.WaitAsync(Timeouts.Short);
        var secondStarted = await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Count(id => id == "dup") == 2);
        var reservedWhileTheSecondRuns = kit.Ledger.Reservations.Count;
        var cancellable = kit.Engine.View("dup")!.State == TaskState.Running;
        kit.Runtime.Open("dup-second");
        var final = await kit.FinalAsync("dup");
        var released = await EngineKit.EventuallyAsync(() => kit.Engine.RunningCount == 0 && kit.Ledger.Reservations.Count == 0);

        Assert.True(firstStarted);
        Assert.Equal(AdmissionStatus.Accepted, second.Status);
        Assert.False(secondStartedBesideTheFirst);
        Assert.Equal(AdmissionStatus.Conflict, outcome.Status);
        Assert.True(secondStarted);
        Assert.Equal(1, reservedWhileTheSecondRuns);
        Assert.True(cancellable);
        Assert.Equal(TaskState.Completed, final.State);
        Assert.Equal("""{"value":"second"}""", final.Record.Result);
        Assert.Equal(2, kit.Runtime.Started.Count(id => id == "dup"));
        Assert.True(released);
    }

    [Fact]
    public async Task Submit_StartedBeforeStored_RunningMarkDueWhileTheSubmissionIsHeld_TheEndStillRecordsTheStart()
    {
        var store = new FailingTaskStore(new MemoryTaskStore());
        await using var kit = await EngineKit.StartAsync(store, 4, new ScriptedRuntime { StartsBeforeStored = true });
        store.Hold(nameof(ITaskStore.InsertAsync));
        // The running mark, once due, is held back too, so that the end is written first whatever the order of the two.
        store.Hold(nameof(ITaskStore.MarkRunningAsync));

        var submission = kit.SubmitAsync("marked", Gate("marked"));
        Assert.True(await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Contains("marked")));
        // The run ends and waits for its submission; then its running mark falls due and waits for it too.
        kit.Runtime.Open("marked");
        await Task.Delay(50, Timeouts.Token());
        kit.Time.Advance(TaskEngine.RunningMarkDelay * 2);
        await Task.Delay(20, Timeouts.Token());
        store.Let(nameof(ITaskStore.InsertAsync));
        await submission.WaitAsync(Timeouts.Short);
        var final = await kit.FinalAsync("marked");
        store.Let(nameof(ITaskStore.MarkRunningAsync));

        Assert.Equal(TaskState.Completed, final.State);
        Assert.Equal(1, final.Record.Attempts);
        Assert.NotNull(final.Record.StartedAt);
        Assert.Equal((1, (DateTimeOffset?)final.Record.StartedAt), (store.Get("marked")!.Attempts, store.Get("marked")!.StartedAt));
    }

    [Fact]
    public async Task Submit_WaitsForEnd_WriteOfSubmissionWithEndFails_TheSubmissionFailsAndNothingIsKept()
    {
        var store = new FailingTaskStore(new MemoryTaskStore());
        await using var kit = await EngineKit.StartAsync(store, 1, new ScriptedRuntime { StartsBeforeStored = true });
        store.Fail(nameof(ITaskStore.InsertFinishedAsync), () => new IOException("the disk went away"));

        var lost = kit.SubmitAsync("lost", Gate("lost"), waitsForEnd: true);
        Assert.True(await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Contains("lost")));
        kit.Runtime.Open("lost");
        await Assert.ThrowsAsync<IOException>(() => lost.WaitAsync(Timeouts.Short));
        var released = await EngineKit.EventuallyAsync(() => kit.Engine.RunningCount == 0 && kit.Ledger.Reservations.Count == 0);
        store.Heal();
        await kit.SubmitAsync("next", new JsonObject { ["action"] = "complete", ["value"] = "ok" }, waitsForEnd: true);
        var next = await kit.FinalAsync("next");

        Assert.True(released);
        Assert.Null(kit.Engine.View("lost"));
        Assert.Null(store.Get("lost"));
        Assert.Equal(TaskState.Completed, next.State);
    }

    private static async Task<TaskState[]> StatesAsync(TaskEventHub.Subscription events, int count)
    {
        var states = new List<TaskState>();
        while (states.Count < count)
        {
            var e = await events.Reader.ReadAsync(Timeouts.Token());
            if (e.State is { } state)
            {
                states.Add(state);
            }
        }

        return [.. states];
    }
}
