using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Runtimes.Wasm;
using Tenzro.Node.Tests.Support;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Runtimes.Wasm;

/// <summary>A <see cref="WasmRuntime"/> over a temporary DATA_DIR with a real blob store and module cache.</summary>
internal sealed class WasmSandbox : IDisposable
{
    /// <param name="images">Scratch images to mount /scratch on; none (the default) measures it by walking.</param>
    public WasmSandbox(ScratchImages? images = null)
    {
        Directory = TestNode.NewDirectory();
        Blobs = new BlobStore(Directory);
        Cache = NewCache();
        Runtime = new WasmRuntime(Blobs, Cache, WasmEngine.Shared, images);
    }

    public string Directory { get; }

    public BlobStore Blobs { get; }

    public WasmModuleCache Cache { get; }

    public WasmRuntime Runtime { get; }

    /// <summary>A fresh cache over the same folder, as after a restart.</summary>
    public WasmModuleCache NewCache() => new(WasmEngine.Shared, Path.Combine(Directory, "wasm-cache"), NullLogger<WasmModuleCache>.Instance);

    public static TaskSpec Task(JsonObject data, JsonObject? config = null, ResourceAmounts? requirements = null, TimeSpan? timeout = null) => new()
    {
        TaskId = TaskParser.NewTaskId(),
        Type = "compute",
        Data = data,
        Config = config ?? [],
        Requirements = requirements ?? ResourceAmounts.TaskDefault,
        Timeout = timeout ?? TimeSpan.FromSeconds(30),
    };

    public static JsonObject Call(string wat, string entry, params JsonNode?[] args) =>
        new() { ["wat"] = wat, ["entry"] = entry, ["args"] = new JsonArray(args) };

    public TaskExecutionContext Context(TaskSpec task, CancellationToken? cancellation = null, IProgress<double>? progress = null) => new()
    {
        Task = task,
        CancellationToken = cancellation ?? CancellationToken.None,
        Deadline = DateTimeOffset.UtcNow + task.Timeout,
        Progress = progress ?? new ProgressLog(),
        ScratchDirectory = Path.Combine(Directory, "scratch", task.TaskId),
    };

    /// <summary>Executes the task, failing the test if it does not end within <see cref="Timeouts.Short"/>.</summary>
    public Task<JsonObject> RunAsync(TaskSpec task, CancellationToken? cancellation = null, IProgress<double>? progress = null) =>
        Runtime.ExecuteAsync(Context(task, cancellation, progress)).WaitAsync(Timeouts.Short);

    /// <summary>Executes the task and returns the failure it must end with.</summary>
    public async Task<WasmTaskException> FailAsync(TaskSpec task) =>
        await Assert.ThrowsAsync<WasmTaskException>(() => RunAsync(task));

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Records every progress report, synchronously.</summary>
internal sealed class ProgressLog : IProgress<double>
{
    public ConcurrentQueue<double> Values { get; } = new();

    public void Report(double value) => Values.Enqueue(value);
}
