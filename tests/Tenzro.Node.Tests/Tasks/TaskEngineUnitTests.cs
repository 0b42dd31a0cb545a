using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Tasks;

/// <summary>
/// The engine on its own (no host, no HTTP): the in-memory store, a real ledger, a fake clock and the scripted runtime.
/// What is asserted is what a caller sees through the admission and the engine's views.
/// </summary>
[Trait("Suite", "tasks")]
public sealed class TaskEngineUnitTests
{
    private static JsonObject Complete(string value) => new() { ["action"] = "complete", ["value"] = value };

    private static JsonObject Gate(string gate) => new() { ["action"] = "gate", ["gate"] = gate };

    private static JsonObject Hang() => new() { ["action"] = "hang" };

    [Fact]
    public async Task Start_AutoSlotsAndHeldTasksOfAnEighthOfACore_AsManyRunAsTheCoresHold()
    {
        // The kit's ledger lends 4 cores and 8 GB: auto gives min(⌈4 × 8⌉, 8192 MB ÷ 256 MB) = 32 slots, so 32 tasks of an
        // eighth of a core, each held to it, run at once and reserve every core (two slots a core ran 8, on 1 of the 4 cores).
        await using var kit = await EngineKit.StartAutoSlotsAsync(new ScriptedRuntime { HoldsCpuFraction = true });
        for (var i = 0; i < 33; i++)
        {
            await kit.SubmitAsync($"small-{i}", Gate("small"), requirements: new JsonObject { ["cpu"] = 0.125, ["memoryMB"] = 16 });
        }

        var allStarted = await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Count == 32);
        var started = kit.Runtime.Started.Count;
        var reserved = kit.Ledger.Reserved.Cpu;
        var last = kit.Engine.View("small-32")!;
        kit.Runtime.Open("small");
        var ended = await kit.FinalAsync("small-32");

        Assert.True(allStarted, $"{started} of 33 tasks started at once");
        Assert.Equal(4.0, reserved, 6);
        Assert.Equal(TaskState.Queued, last.State);
        Assert.Equal(TaskState.Completed, ended.State);
    }

    [Fact]
    public async Task Start_AutoSlotsAndUnheldTasksOfAnEighthOfACore_TwoACoreRun_AndAWholeCoreTaskBehindThemStarts()
    {
        // Not held to their eighth, each could use a whole core: 4 cores × 2 = 8 of them at once.
        await using var kit = await EngineKit.StartAutoSlotsAsync(new ScriptedRuntime { HoldsCpuFraction = false });
        for (var i = 0; i < 10; i++)
        {
            await kit.SubmitAsync($"small-{i}", Gate("small"), requirements: new JsonObject { ["cpu"] = 0.125, ["memoryMB"] = 16 });
        }

        await kit.SubmitAsync("whole", Gate("whole"), requirements: new JsonObject { ["cpu"] = 1, ["memoryMB"] = 16 });
        var wholeStarted = await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Contains("whole"));
        var started = kit.Runtime.Started.Count;
        var waiting = kit.Engine.View("small-9")!;
        kit.Runtime.Open("small");
        kit.Runtime.Open("whole");
        var last = await kit.FinalAsync("small-9");

        Assert.True(wholeStarted);
        Assert.Equal(9, started); // 8 small ones and the whole-core one
        Assert.Equal(TaskState.Queued, waiting.State);
        Assert.Equal("concurrency", waiting.WaitingFor!["reason"]!.GetValue<string>());
        Assert.Contains("cannot hold to it", waiting.WaitingFor!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(TaskState.Completed, last.State);
    }

    [Fact]
    public async Task Start_OneSlotAndTasksOfEveryPriorityQueued_StartsThemHighestPriorityFirstThenInSubmissionOrder()
    {
        await using var kit = await EngineKit.StartAsync(slots: 1);
        await kit.SubmitAsync("blocker", Gate("blocker"));
        Assert.True(await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Contains("blocker")));
        await kit.SubmitAsync("low", Complete("l"), "low");
        await kit.SubmitAsync("medium-1", Complete("m1"), "medium");
        await kit.SubmitAsync("critical", Complete("c"), "critical");
        await kit.SubmitAsync("medium-2", Complete("m2"), "medium");
        await kit.SubmitAsync("high", Complete("h"), "high");
        var waiting = kit.Engine.View("low")!;

        kit.Runtime.Open("blocker");
        var last = await kit.FinalAsync("low");

        Assert.Equal(TaskState.Queued, waiting.State);
        Assert.Equal("concurrency", waiting.WaitingFor!["reason"]!.GetValue<string>());
        Assert.Equal(TaskState.Completed, last.State);
        Assert.Equal(["blocker", "critical", "high", "medium-1", "medium-2", "low"], kit.Runtime.Started);
    }

    [Fact]
    public async Task Deadline_ClockPassesTheTimeout_TaskTimesOutAndReleasesItsReservation()
    {
        await using var kit = await EngineKit.StartAsync();
        await kit.SubmitAsync("slow", Hang(), timeoutSeconds: 30);
        Assert.True(await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Contains("slow")));
        var before = kit.Engine.View("slow")!;

        kit.Time.Advance(TimeSpan.FromSeconds(29));
        var justBefore = kit.Engine.View("slow")!;
        kit.Time.Advance(TimeSpan.FromSeconds(2));
        var final = await kit.FinalAsync("slow");

        Assert.Equal(TaskState.Running, before.State);
        Assert.NotNull(before.Reservation);
        Assert.Equal(TaskState.Running, justBefore.State);
        Assert.Equal(TaskState.TimedOut, final.State);
        Assert.Equal("stopped after its timeout of 30 s", final.Record.Error);
        Assert.True(await EngineKit.EventuallyAsync(() => kit.Ledger.Reservations.Count == 0));
    }

    [Fact]
    public async Task Cancel_QueuedTask_EndsCancelledWithoutRunning()
    {
        var hook = new RecordingHook("hook");
        await using var kit = await EngineKit.StartAsync(slots: 1, hooks: [hook]);
        await kit.SubmitAsync("blocker", Gate("blocker"));
        Assert.True(await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Contains("blocker")));
        await kit.SubmitAsync("waiting", Complete("never"));

        var cancelled = await kit.Engine.CancelAsync("waiting");
        var again = await kit.Engine.CancelAsync("waiting");
        var view = kit.Engine.View("waiting")!;

        Assert.True(cancelled);
        Assert.False(again);
        Assert.Equal(TaskState.Cancelled, view.State);
        Assert.Equal("cancelled by request before it started", view.Record.Error);
        Assert.Equal(0, kit.Engine.QueuedCount);
        Assert.DoesNotContain("waiting", kit.Runtime.Started);
        Assert.Equal(["hook finished waiting cancelled ran=False"], hook.Calls.Where(c => c.Contains("waiting", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Cancel_RunningTask_StopsItsRunAndEndsCancelled()
    {
        await using var kit = await EngineKit.StartAsync();
        await kit.SubmitAsync("busy", Hang());
        Assert.True(await EngineKit.EventuallyAsync(() => kit.Runtime.Started.Contains("busy")));

        var cancelled = await kit.Engine.CancelAsync("busy");
        var final = await kit.FinalAsync("busy");

        Assert.True(cancelled);
        Assert.Equal(TaskState.Cancelled, final.State);
        Assert.Equal("cancelled by request while running", final.Record.Error);
        Assert.Equal(1, final.Record.Attempts);
        Assert.True(await EngineKit.EventuallyAsync(() => !kit.Engine.IsRunning("busy")));
    }

    [Fact]
    public async Task Hooks_TaskRuns_EachPhaseRunsOnceInRegistrationOrderAfterTheScratchDirectoryIsNamed()
    {
        var first = new RecordingHook("first") { MakeScratch = true };
        var second = new RecordingHook("second");
        await using var kit = await EngineKit.StartAsync(hooks: [first, second]);

        await kit.SubmitAsync("hooked", Complete("done"));
        var final = await kit.FinalAsync("hooked");
        Assert.True(await EngineKit.EventuallyAsync(() => second.Calls.Count == 4));

        Assert.Equal(TaskState.Completed, final.State);
        Assert.Equal(
            [
                "first prestart hooked attempt=1", "second prestart hooked attempt=1",
                "first stopped hooked completed", "second stopped hooked completed",
                "first finished hooked completed ran=True", "second finished hooked completed ran=True",
                "first released hooked", "second released hooked",
            ],
            RecordingHook.Interleaved(first, second));
        Assert.Equal(Path.Combine(kit.DataDirectory, "scratch"), Path.GetDirectoryName(first.Scratch));
        Assert.True(first.ScratchMade);
        Assert.False(first.ScratchLeftAtRelease);
        Assert.False(Directory.Exists(first.Scratch));
    }

    [Fact]
    public async Task Hooks_OneThrowsInEveryPhase_TaskCompletesWithItsResultAndTheNextHookStillRuns()
    {
        var after = new RecordingHook("after");
        await using var kit = await EngineKit.StartAsync(hooks: [new ThrowingHook(), after]);

        var admitted = await kit.SubmitAsync("survives", Complete("kept"));
        var final = await kit.FinalAsync("survives");
        Assert.True(await EngineKit.EventuallyAsync(() => after.Calls.Count == 4));

        Assert.Equal(AdmissionStatus.Accepted, admitted.Status);
        Assert.Equal(TaskState.Completed, final.State);
        Assert.Equal("""{"value":"kept"}""", final.Record.Result);
        Assert.Null(final.Record.Error);
        Assert.Equal(["prestart", "stopped", "finished", "released"], after.Calls.Select(c => c.Split(' ')[1]));
    }

    [Fact]
    public async Task FinalWrite_StoreDiskFull_TaskShowsRunningAndKeepsItsSlotThenCompletesOnceTheStoreTakesWrites()
    {
        var store = new FailingTaskStore(new MemoryTaskStore());
        var hook = new RecordingHook("hook");
        await using var kit = await EngineKit.StartAsync(store, hooks: [hook]);
        store.Fail(nameof(ITaskStore.MarkFinishedAsync), FailingTaskStore.DiskFull);

        await kit.SubmitAsync("stuck", Complete("eventually"));
        Assert.True(await EngineKit.EventuallyAsync(() => store.Refused.GetValueOrDefault(nameof(ITaskStore.MarkFinishedAsync)) >= 1));
        Assert.True(await EngineKit.EventuallyAsync(() =>
        {
            kit.Time.Advance(TimeSpan.FromMilliseconds(100));
            return store.Refused.GetValueOrDefault(nameof(ITaskStore.MarkFinishedAsync)) >= 2;
        }));
        var during = kit.Engine.View("stuck")!;
        var runningDuring = kit.Engine.IsRunning("stuck");
        var finishedDuring = hook.Calls.Any(c => c.Contains("finished", StringComparison.Ordinal));

        store.Heal();
        var ended = await EngineKit.EventuallyAsync(() =>
        {
            kit.Time.Advance(TimeSpan.FromMilliseconds(100));
            return kit.Engine.View("stuck")!.State.IsFinal();
        });
        var final = await kit.FinalAsync("stuck");
        Assert.True(await EngineKit.EventuallyAsync(() => hook.Calls.Count == 4));

        Assert.Equal(TaskState.Running, during.State);
        Assert.NotNull(during.Reservation);
        Assert.True(runningDuring);
        Assert.False(finishedDuring);
        Assert.True(ended);
        Assert.Equal(TaskState.Completed, final.State);
        Assert.Equal("""{"value":"eventually"}""", final.Record.Result);
        Assert.Single(hook.Calls, c => c.Contains("finished", StringComparison.Ordinal));
        Assert.True(await EngineKit.EventuallyAsync(() => kit.Ledger.Reservations.Count == 0));
    }

    /// <summary>Writes down every phase it sees, in order.</summary>
    private sealed class RecordingHook(string name) : ITaskPrestartHook, ITaskStoppedHook, ITaskFinishedHook, ITaskReleasedHook
    {
        private static long _clock;
        private readonly ConcurrentQueue<(long At, string Call)> _calls = new();

        public IReadOnlyList<string> Calls => [.. _calls.Select(c => c.Call)];

        /// <summary>Makes the run's scratch directory at prestart, as a runtime does on first use.</summary>
        public bool MakeScratch { get; init; }

        public string? Scratch { get; private set; }

        public bool ScratchMade { get; private set; }

        /// <summary>Whether the scratch directory was still there when the run was released to this hook (after the engine's own).</summary>
        public bool ScratchLeftAtRelease { get; private set; }

        /// <summary>The calls of several hooks in the order they were made.</summary>
        public static IReadOnlyList<string> Interleaved(params RecordingHook[] hooks) =>
            [.. hooks.SelectMany(h => h._calls).OrderBy(c => c.At).Select(c => c.Call)];

        public ValueTask PrestartAsync(TaskRun run, CancellationToken cancellationToken)
        {
            Scratch = run.ScratchDirectory;
            if (MakeScratch)
            {
                Directory.CreateDirectory(Path.Combine(run.ScratchDirectory, "made"));
                ScratchMade = Directory.Exists(run.ScratchDirectory);
            }

            Add($"prestart {run.Task.TaskId} attempt={run.Attempt}");
            return ValueTask.CompletedTask;
        }

        public void Stopped(TaskRun run, TaskEnd end) => Add($"stopped {end.Spec.TaskId} {end.State.ToWire()}");

        public ValueTask FinishedAsync(TaskEnd end)
        {
            Add($"finished {end.Spec.TaskId} {end.State.ToWire()} ran={end.CpuSeconds is not null}");
            return ValueTask.CompletedTask;
        }

        public void Released(TaskRun run)
        {
            ScratchLeftAtRelease = Directory.Exists(run.ScratchDirectory);
            Add($"released {run.Task.TaskId}");
        }

        private void Add(string call) => _calls.Enqueue((Interlocked.Increment(ref _clock), $"{name} {call}"));
    }

    private sealed class ThrowingHook : ITaskPrestartHook, ITaskStoppedHook, ITaskFinishedHook, ITaskReleasedHook
    {
        public ValueTask PrestartAsync(TaskRun run, CancellationToken cancellationToken) => throw new InvalidOperationException("prestart broke");

        public void Stopped(TaskRun run, TaskEnd end) => throw new InvalidOperationException("stopped broke");

        public async ValueTask FinishedAsync(TaskEnd end)
        {
            await Task.Yield();
            throw new InvalidOperationException("finished broke");
        }

        public void Released(TaskRun run) => throw new InvalidOperationException("released broke");
    }
}
