using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Optimization;
using Tenzro.Node.Core.Tasks;
using Wasmtime;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>
/// The <c>compute</c> task: a WebAssembly module (WAT text, base64 binary or a stored blob) run in Wasmtime,
/// either as a call of an exported function with numeric arguments or as a WASI command with argv, env and
/// stdin. Limits come from the task: fuel, memory, tables, wall time, output size (docs/TASKS.md).
/// </summary>
/// <remarks>
/// Thread-safe. Each execution runs on a thread of its own with a large native stack, so a deep wasm stack
/// never meets the host's stack limit and a long computation never holds a thread-pool thread.
/// </remarks>
internal sealed partial class WasmRuntime(BlobStore blobs, WasmModuleCache cache, WasmEngine engine, ScratchImages? images = null) : ITaskRuntime
{
    public const string TaskType = "compute";

    public IReadOnlyCollection<string> Types { get; } = [TaskType];

    /// <summary>A module is held at its next epoch (within about <see cref="WasmDefaults.EpochInterval"/>) while its task is paused.</summary>
    public bool SupportsPause => true;

    /// <summary>
    /// A run is handed to its thread while its attempt commits; a module compiled already is set up meanwhile, and nothing
    /// of the task (its start function, its entry, the compiler on a module not compiled yet) runs before the attempt is stored.
    /// </summary>
    public bool PreparesBeforeStored => true;

    public void Validate(TaskSpec task, ValidationErrors errors)
    {
        _ = WasmTaskRequest.Parse(task, errors, blobs);
        if (task.Requirements.Cpu < 1 && !ThreadCpu.CanLimit)
        {
            errors.Add("requirements.cpu", $"is {task.Requirements.Cpu.ToString(System.Globalization.CultureInfo.InvariantCulture)}, but a compute task runs on one thread, which can use a whole core, and this node cannot hold a thread to a fraction of a core (it may not make cgroup v1 cpu groups); ask for at least 1.");
        }
    }

    /// <summary>
    /// Keyed by the content hash of the module as given (the sha256 of its WAT text, or of its binary), and the call by
    /// what it is given (entry, arguments, command line, environment, stdin). The fuel budget is the declared work for
    /// the first estimate only: it bounds the work, it is not the work, so a larger budget does not make a measured
    /// module's estimate longer.
    /// </summary>
    /// <summary>A task of a fraction of a core runs on one thread under a CPU quota (and is refused where none can be made).</summary>
    public bool HoldsCpuFraction => ThreadCpu.CanLimit;

    public TaskCostInput DescribeCost(TaskSpec task)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (WasmTaskRequest.Parse(task, new ValidationErrors(), blobs) is not { } request)
        {
            return TaskCostInput.OfType(task.Type);
        }

        var key = "wasm:" + SourceHash(request.Source);
        return new TaskCostInput(key, request.Fuel) { CallKey = TaskCostInput.CallKeyOf(key, CallText(request)), WorkScales = false };
    }

    /// <summary>What a call is given beside its module, as JSON text.</summary>
    private static string CallText(WasmTaskRequest request) => new JsonArray(
        request.Entry,
        new JsonArray([.. request.Args.Select(a => a?.DeepClone())]),
        new JsonArray([.. request.Argv.Select(a => JsonValue.Create(a))]),
        new JsonArray([.. request.Environment.Select(e => JsonValue.Create(e.Name + "=" + e.Value))]),
        request.Stdin).ToJsonString();

    public async Task<JsonObject> ExecuteAsync(TaskExecutionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var errors = new ValidationErrors();
        var request = WasmTaskRequest.Parse(context.Task, errors, blobs)
            ?? throw new WasmTaskException(WasmFailure.InvalidTask, errors.ToString());
        context.CancellationToken.ThrowIfCancellationRequested();

        byte[]? stored = null;
        if (request.Source.Kind == WasmModuleSourceKind.BlobHash)
        {
            stored = await blobs.ReadAsync(request.Source.Value, context.CancellationToken)
                ?? throw new WasmTaskException(WasmFailure.NotWasm, $"the blob {request.Source.Value} (data.moduleHash) was deleted before the task ran");
        }

        return await RunOnOwnThreadAsync(() => context.CpuTime.Measure(() =>
        {
            var module = Compiled(request.Source);
            if (module is null)
            {
                // The WAT parser and the compiler read the task's own bytes: not before its attempt is stored.
                context.StartGate.Wait(context.CancellationToken);
                var (hash, wasm) = Binary(request.Source, stored);
                module = cache.GetOrCompile(hash, wasm);
            }

            // The module runs on this one thread: it can use one core, and no more than its share of one where a quota can hold it.
            using var quota = ThreadCpu.Limit(context.Task.Requirements.Cpu);
            using var active = engine.BeginExecution();
            return WasmExecution.Run(engine, module, request, context, images);
        }));
    }

    private const int MaxConvertedText = 256;

    /// <summary>WAT text already converted to binary, by the text's sha256: repeated WAT tasks skip the parser.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, (string Hash, byte[] Wasm)> ConvertedText = new(StringComparer.Ordinal);

    /// <summary>The sha256 of the module as given: of its binary (a blob's hash, decoded base64), or of its WAT text.</summary>
    private static string SourceHash(WasmModuleSource source) => source.Kind switch
    {
        WasmModuleSourceKind.BlobHash => source.Value,
        WasmModuleSourceKind.Base64 => Convert.ToHexStringLower(SHA256.HashData(Convert.FromBase64String(source.Value))),
        _ => TextKey(source.Value),
    };

    /// <summary>The module when it is compiled and in memory already (found without parsing or compiling anything); else null.</summary>
    private Module? Compiled(WasmModuleSource source)
    {
        var hash = SourceHash(source);
        if (source.Kind is not (WasmModuleSourceKind.BlobHash or WasmModuleSourceKind.Base64))
        {
            // WAT text is cached by its binary's hash, once converted.
            hash = ConvertedText.TryGetValue(hash, out var converted) ? converted.Hash : null;
        }

        return hash is null ? null : cache.Cached(hash);
    }

    private static string TextKey(string text) => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));

    /// <summary>The module's binary and its sha256 (the cache key), whatever form it was given in.</summary>
    private static (string Hash, byte[] Wasm) Binary(WasmModuleSource source, byte[]? stored)
    {
        byte[] wasm;
        switch (source.Kind)
        {
            case WasmModuleSourceKind.BlobHash:
                return (source.Value, stored!);
            case WasmModuleSourceKind.Base64:
                wasm = Convert.FromBase64String(source.Value);
                break;
            default:
                var textKey = TextKey(source.Value);
                if (ConvertedText.TryGetValue(textKey, out var converted))
                {
                    return converted;
                }

                try
                {
                    wasm = Module.ConvertText(source.Value);
                }
                catch (WasmtimeException e)
                {
                    throw new WasmTaskException(WasmFailure.NotWasm, $"not a WebAssembly module: data.wat does not parse: {DescribeTextError(e.Message)}", e);
                }

                if (ConvertedText.Count >= MaxConvertedText)
                {
                    ConvertedText.Clear();
                }

                return ConvertedText[textKey] = (Convert.ToHexStringLower(SHA256.HashData(wasm)), wasm);
        }

        return (Convert.ToHexStringLower(SHA256.HashData(wasm)), wasm);
    }

    /// <summary>"unknown operator … --> &lt;anon&gt;:1:29 …" becomes "unknown operator … at line 1, column 29".</summary>
    private static string DescribeTextError(string message)
    {
        var first = message.Split('\n', 2)[0].Trim();
        var location = TextErrorLocation().Match(message);
        return location.Success ? $"{first} at line {location.Groups[1].Value}, column {location.Groups[2].Value}" : first;
    }

    private static Task<T> RunOnOwnThreadAsync<T>(Func<T> work)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        WasmThreads.Run(() =>
        {
            try
            {
                completion.SetResult(work());
            }
            catch (OperationCanceledException e)
            {
                completion.SetCanceled(e.CancellationToken);
            }
            catch (Exception e)
            {
                completion.SetException(e);
            }
        });
        return completion.Task;
    }

    [GeneratedRegex(@"-->\s*[^:\s]+:(\d+):(\d+)")]
    private static partial Regex TextErrorLocation();
}
