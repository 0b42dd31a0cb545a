using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Tasks;

/// <summary>
/// A task engine built directly, with no host: a given store (in memory unless told), a real ledger of 4 cores and 8 GB,
/// a fake clock, the <see cref="ScriptedRuntime"/> ("script" tasks that complete, fail, hang or wait on a gate), and
/// the admission every submitter uses. Its data directory is a fresh temporary one, removed on dispose.
/// </summary>
internal sealed class EngineKit : IAsyncDisposable
{
    private EngineKit(ITaskStore store, int? slots, TaskHooks? hooks, ScriptedRuntime? runtime)
    {
        Store = store;
        Runtime = runtime ?? new ScriptedRuntime();
        DataDirectory = Directory.CreateTempSubdirectory("tenzro-engine-").FullName;
        var options = new TaskOptions { MaxConcurrentTasks = slots, TaskTimeout = TimeSpan.FromMinutes(10) };
        Ledger = new ResourceLedger(new ResourceAmounts(4, 8192, 8192, 0, 0), Time);
        Engine = new TaskEngine(
            store, Ledger, new IntakeState(), [Runtime], options, new StorageOptions { DataDirectory = DataDirectory }, Time,
            new TaskMetrics(new Meters()), NullLogger<TaskEngine>.Instance, hooks: hooks);
        Admission = new TaskAdmission(Engine, options, new RequesterQuotas(new QuotaOptions(), Time));
    }

    public FakeTimeProvider Time { get; } = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    public ScriptedRuntime Runtime { get; }

    public ITaskStore Store { get; }

    public ResourceLedger Ledger { get; }

    public TaskEngine Engine { get; }

    public TaskAdmission Admission { get; }

    public string DataDirectory { get; }

    /// <summary>Builds the engine and starts it (which rebuilds its queue from <paramref name="store"/>).</summary>
    public static Task<EngineKit> StartAsync(ITaskStore? store = null, int slots = 4, params ITaskHook[] hooks) => StartAsync(store, slots, null, hooks);

    /// <summary>As above, with <c>MAX_CONCURRENT_TASKS=auto</c>: the slots derived from the kit's ledger (4 cores, 8 GB).</summary>
    public static async Task<EngineKit> StartAutoSlotsAsync(ScriptedRuntime? runtime = null)
    {
        var kit = new EngineKit(new MemoryTaskStore(), null, new TaskHooks([]), runtime);
        await kit.Engine.StartAsync();
        return kit;
    }

    /// <summary>As above, with the given runtime (one that starts its runs before they are stored, say).</summary>
    public static async Task<EngineKit> StartAsync(ITaskStore? store, int slots, ScriptedRuntime? runtime, params ITaskHook[] hooks)
    {
        var kit = new EngineKit(store ?? new MemoryTaskStore(), slots, new TaskHooks(hooks), runtime);
        await kit.Engine.StartAsync();
        return kit;
    }

    /// <summary>Admits a "script" task through <see cref="TaskAdmission"/>, as the API does.</summary>
    public async Task<AdmissionOutcome> SubmitAsync(string taskId, JsonObject data, string priority = "medium", double timeoutSeconds = 60, bool waitsForEnd = false, JsonObject? requirements = null)
    {
        var body = new JsonObject { ["taskId"] = taskId, ["type"] = "script", ["priority"] = priority, ["timeout"] = timeoutSeconds, ["data"] = data };
        if (requirements is not null)
        {
            body["requirements"] = requirements;
        }

        return await Admission.AdmitAsync(body, new TaskSubmitter(TaskOrigins.Api, "tester", TaskOwners.AnonymousLoopback, WaitsForEnd: waitsForEnd));
    }

    /// <summary>Waits (real time) until the task is final; the engine's own timeout is on the fake clock, so it is not used.</summary>
    public async Task<TaskView> FinalAsync(string taskId)
    {
        await Engine.WaitAsync(taskId, Timeout.InfiniteTimeSpan, Timeouts.Token());
        return Engine.View(taskId)!;
    }

    /// <summary>Polls (real time) until <paramref name="condition"/> holds; false when it never did within <paramref name="within"/> (<see cref="Timeouts.Short"/>).</summary>
    public static async Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? Timeouts.Short);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(5);
        }

        return true;
    }

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed class Meters : IMeterFactory
    {
        public Meter Create(MeterOptions options) => new(options);

        public void Dispose()
        {
        }
    }
}
