using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks;
using Wasmtime;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>
/// One run of a compiled module in a store of its own: fuel, memory and table limits, WASI with captured
/// output, the epoch check that stops the module on cancellation, timeout or a broken limit and holds it while the
/// task is paused, and the translation of traps into reasons.
/// </summary>
/// <remarks>Single use; <see cref="Run"/> blocks the calling thread while the module runs.</remarks>
internal sealed class WasmExecution
{
    private const string WasiModule = "wasi_snapshot_preview1";

    /// <summary>How long past its deadline a module runs if the caller's token never fires.</summary>
    private static readonly TimeSpan DeadlineGrace = TimeSpan.FromSeconds(2);

    private readonly WasmEngine _engine;
    private readonly Module _module;
    private readonly WasmTaskRequest _request;
    private readonly TaskExecutionContext _context;
    private readonly OutputCapture? _stdout;
    private readonly OutputCapture? _stderr;
    private readonly string? _scratchDirectory;
    private readonly ScratchMeter? _scratch;

    private readonly ScratchImages? _images;

    private WasmExecution(WasmEngine engine, Module module, WasmTaskRequest request, TaskExecutionContext context, ScratchImages? images)
    {
        _images = images;
        _engine = engine;
        _module = module;
        _request = request;
        _context = context;
        if (request.IsCommand)
        {
            _stdout = new OutputCapture("stdout", request.MaxOutputBytes);
            _stderr = new OutputCapture("stderr", request.MaxOutputBytes);
        }

        if (request.Scratch)
        {
            _scratchDirectory = Path.Combine(context.ScratchDirectory, "scratch");
            _scratch = new ScratchMeter(_scratchDirectory, request.ScratchLimitBytes);
        }
    }

    /// <summary>
    /// Runs the task and returns its result: <c>{"returns":[…]}</c> for a function call,
    /// <c>{"exitCode","stdout","stderr"}</c> for a WASI command. Throws <see cref="WasmTaskException"/> with the
    /// reason, or <see cref="OperationCanceledException"/> once the context's token has fired.
    /// </summary>
    /// <remarks>With <paramref name="images"/>, a task's <c>/scratch</c> is a quota file system of its own where one can be made.</remarks>
    public static JsonObject Run(WasmEngine engine, Module module, WasmTaskRequest request, TaskExecutionContext context, ScratchImages? images = null) =>
        new WasmExecution(engine, module, request, context, images).Run();

    private JsonObject Run()
    {
        var cancellation = _context.CancellationToken;
        cancellation.ThrowIfCancellationRequested();
        CheckImports();
        if (_request.Stdin is not null || _scratchDirectory is not null)
        {
            // The task's files (stdin, /scratch and its image) are made only once it is stored: a run whose submission is
            // not stored leaves nothing behind, not even in the scratch directory that a task of the same id will use.
            _context.StartGate.Wait(cancellation);
        }

        // Mounted before the store opens /scratch, and so unmounted after the store has closed it.
        using var image = MountScratch();
        using var store = new Store(_engine.Engine, new WasmCallState(cancellation, _context.Progress));
        store.Fuel = _request.Fuel;
        store.SetLimits(memorySize: _request.MemoryLimitBytes, tableElements: _request.MaxTableElements, instances: 1, tables: 16, memories: 1);
        store.SetEpochDeadline(1);
        store.SetEpochDeadlineCallback(OnEpoch);
        store.SetWasiConfiguration(CreateWasiConfiguration());

        var linker = _engine.Linkers.For(_request.WasiClock, _request.WasiRandom);

        Instance? instance = null;
        try
        {
            // Instantiating runs the module's start function: the task's own code, not before its attempt is stored.
            _context.StartGate.Wait(cancellation);
            instance = linker.Instantiate(store, _module);
            var result = _request.IsCommand ? RunCommand(instance) : CallFunction(instance);
            if (instance.GetMemories().Select(m => m.Memory).FirstOrDefault() is { } memory)
            {
                // Linear memory only grows, so its size at the end is the module's peak.
                _context.MemoryPeak.Observe(memory.GetLength());
            }

            // A module woken from a sleep by the cancellation may return before the next epoch stops it.
            cancellation.ThrowIfCancellationRequested();

            // What it wrote since the last walk: a module that ends between two walks is held to the limit too.
            ThrowIfScratchOver(force: true);
            _context.Progress.Report(1);
            return result;
        }
        catch (WasmtimeException e)
        {
            throw Translate(e, instance);
        }
    }

    private JsonObject CallFunction(Instance instance)
    {
        var entry = _request.Entry!;
        if (entry != "_initialize" && instance.GetFunction("_initialize") is { Parameters.Count: 0, Results.Count: 0 } initialize)
        {
            // A WASI reactor sets itself up in _initialize before any other export is called.
            InvokeExpectingReturn(initialize, "_initialize", []);
        }

        var function = instance.GetFunction(entry)
            ?? throw new WasmTaskException(WasmFailure.MissingExport, $"the module exports no function '{entry}' (data.entry); it exports {ExportedFunctions()}");

        var signature = $"({string.Join(", ", function.Parameters.Select(WasmValues.Name))}) -> ({string.Join(", ", function.Results.Select(WasmValues.Name))})";
        if (function.Parameters.Concat(function.Results).Any(k => !WasmValues.IsSupported(k)))
        {
            throw new WasmTaskException(WasmFailure.BadArguments, $"function '{entry}' has the signature {signature}; only i32, i64, f32 and f64 parameters and results can be passed as JSON");
        }

        if (function.Parameters.Count != _request.Args.Count)
        {
            throw new WasmTaskException(WasmFailure.BadArguments, $"function '{entry}' takes {function.Parameters.Count} argument(s) {signature}; data.args has {_request.Args.Count}");
        }

        var arguments = new ValueBox[function.Parameters.Count];
        for (var i = 0; i < arguments.Length; i++)
        {
            if (!WasmValues.TryToWasm(_request.Args[i], function.Parameters[i], out arguments[i], out var problem))
            {
                throw new WasmTaskException(WasmFailure.BadArguments, $"data.args[{i}]: {problem} (parameter {i} of '{entry}' is {WasmValues.Name(function.Parameters[i])})");
            }
        }

        var value = InvokeExpectingReturn(function, entry, arguments);
        var returns = value switch
        {
            null => [],
            object[] many => new JsonArray([.. many.Select(WasmValues.ToJson)]),
            _ => new JsonArray(WasmValues.ToJson(value)),
        };
        return new JsonObject { ["returns"] = returns };
    }

    private static object? InvokeExpectingReturn(Function function, string name, ValueBox[] arguments)
    {
        try
        {
            return function.Invoke(arguments);
        }
        catch (WasmtimeException e) when (e.ExitCode is { } code)
        {
            throw new WasmTaskException(WasmFailure.Exited, $"the module called proc_exit({code}) inside '{name}'; a function call must return (leave out data.entry to run it as a WASI command)", e);
        }
    }

    private JsonObject RunCommand(Instance instance)
    {
        var start = instance.GetFunction("_start")
            ?? throw new WasmTaskException(WasmFailure.MissingExport, $"the module exports no _start function, so it is not a WASI command; give data.entry to call one of its functions: {ExportedFunctions()}");

        var exitCode = 0;
        try
        {
            start.Invoke();
        }
        catch (WasmtimeException e) when (e.ExitCode is { } code && !OutputOverflowed)
        {
            exitCode = code;
        }

        ThrowIfOutputOverflowed();
        return new JsonObject
        {
            ["exitCode"] = exitCode,
            ["stdout"] = _stdout!.Text(),
            ["stderr"] = _stderr!.Text(),
        };
    }

    private WasiConfiguration CreateWasiConfiguration()
    {
        var wasi = new WasiConfiguration()
            .WithArgs(_request.Argv)
            .WithEnvironmentVariables(_request.Environment);
        if (_request.Stdin is not null)
        {
            Directory.CreateDirectory(_context.ScratchDirectory);
            var stdin = Path.Combine(_context.ScratchDirectory, "stdin");
            File.WriteAllText(stdin, _request.Stdin);
            wasi.WithStandardInput(stdin);
        }

        if (_stdout is not null && _stderr is not null)
        {
            wasi.WithStandardOutputCallback(_stdout.Write).WithStandardErrorCallback(_stderr.Write);
        }

        if (_scratchDirectory is not null)
        {
            Directory.CreateDirectory(_scratchDirectory);
            wasi.WithPreopenedDirectory(_scratchDirectory, "/scratch", mutable: true);
        }

        return wasi;
    }

    /// <summary>Names every import this node does not provide, before Wasmtime reports only the first.</summary>
    private void CheckImports()
    {
        var missing = _module.Imports
            .Where(i => i.ModuleName != WasiModule && !(i.ModuleName == "tenzro" && i.Name == "progress" && i is FunctionImport))
            .Select(i => $"{i.ModuleName}.{i.Name} ({ImportKind(i)})")
            .ToList();
        if (missing.Count > 0)
        {
            throw new WasmTaskException(WasmFailure.MissingImport, $"the module imports {string.Join(", ", missing)}, which this node does not provide; it provides WASI preview 1 ({WasiModule}) and tenzro.progress (f64)");
        }
    }

    /// <summary>Called on the module's thread at every epoch; throwing stops the module.</summary>
    private ulong OnEpoch(Store store)
    {
        _context.CancellationToken.ThrowIfCancellationRequested();

        // A paused task's thread waits here, between two instructions: no CPU and no fuel are used, and the module goes on
        // where it stopped once the engine resumes it. Cancellation and shutdown still end it (the wait throws).
        _context.Pause.WaitWhilePaused(_context.CancellationToken);
        ThrowIfOutputOverflowed();
        ThrowIfScratchOver(force: false);
        if (DateTimeOffset.UtcNow > _context.CurrentDeadline + DeadlineGrace)
        {
            throw new WasmTaskException(WasmFailure.DeadlinePassed, "stopped at its deadline");
        }

        return 1;
    }

    private bool OutputOverflowed => _stdout?.Overflowed == true || _stderr?.Overflowed == true;

    private void ThrowIfOutputOverflowed()
    {
        foreach (var capture in new[] { _stdout, _stderr })
        {
            if (capture?.Overflowed == true)
            {
                throw new WasmTaskException(WasmFailure.OutputLimit, $"{capture.Name} was truncated: the module wrote more than {capture.Limit} bytes (config.maxOutputBytes) and was stopped");
            }
        }
    }

    private Exception Translate(WasmtimeException exception, Instance? instance)
    {
        for (Exception? inner = exception; inner is not null; inner = inner.InnerException)
        {
            if (inner is OperationCanceledException && _context.CancellationToken.IsCancellationRequested)
            {
                return new OperationCanceledException("the task was cancelled or timed out", exception, _context.CancellationToken);
            }

            if (inner is WasmTaskException failure)
            {
                return failure;
            }
        }

        if (_context.CancellationToken.IsCancellationRequested)
        {
            return new OperationCanceledException("the task was cancelled or timed out", exception, _context.CancellationToken);
        }

        if (OutputOverflowed)
        {
            try
            {
                ThrowIfOutputOverflowed();
            }
            catch (WasmTaskException e)
            {
                return e;
            }
        }

        if (exception is TrapException trap)
        {
            return WasmFailures.FromTrap(trap, _request.Fuel, MemoryNote(instance));
        }

        var cause = WasmFailures.Cause(exception.Message);
        if (WasmFailures.UnknownImport(exception.Message) is { } import)
        {
            return new WasmTaskException(WasmFailure.MissingImport, $"the module imports {import}, which this node does not provide", exception);
        }

        if (cause.Contains("exceeds memory limits", StringComparison.Ordinal))
        {
            return new WasmTaskException(WasmFailure.MemoryLimit, $"the module's initial memory is above the memory limit of {_request.MemoryLimitMB} MB (config.memoryLimitMB, else requirements.memoryMB): {cause}", exception);
        }

        if (cause.Contains("exceeds table limits", StringComparison.Ordinal))
        {
            return new WasmTaskException(WasmFailure.MemoryLimit, $"the module's initial table is above the limit of {_request.MaxTableElements} elements (config.maxTableElements): {cause}", exception);
        }

        if (cause.Contains("missing required memory export", StringComparison.Ordinal))
        {
            return new WasmTaskException(WasmFailure.Trap, $"{cause}: WASI calls need the module to export its memory as \"memory\"", exception);
        }

        return new WasmTaskException(WasmFailure.Trap, cause, exception);
    }

    /// <summary>How much memory the module held against its limit; null when it exports no memory.</summary>
    private string? MemoryNote(Instance? instance)
    {
        var memory = instance?.GetMemories().Select(m => m.Memory).FirstOrDefault();
        return memory is null
            ? null
            : $"memory in use: {FormatBytes(memory.GetLength())}; the memory limit is {_request.MemoryLimitMB} MB, and a memory.grow past it returns -1, which programs usually treat as a fatal allocation failure";
    }

    private string ExportedFunctions()
    {
        var names = _module.Exports.OfType<FunctionExport>().Select(e => e.Name).ToList();
        return names.Count == 0 ? "no functions" : string.Join(", ", names);
    }

    private static string ImportKind(Import import) => import switch
    {
        FunctionImport => "function",
        MemoryImport => "memory",
        TableImport => "table",
        GlobalImport => "global",
        _ => "import",
    };

    private ScratchImage? MountScratch()
    {
        if (_scratch is null || _images?.TryMount(_scratchDirectory!, _request.ScratchLimitBytes) is not { } image)
        {
            return null;
        }

        _scratch.Image = image;
        return image;
    }

    private void ThrowIfScratchOver(bool force)
    {
        if (_scratch?.Check(force) is { } over)
        {
            throw new WasmTaskException(WasmFailure.ScratchLimit, over);
        }
    }

    private static string FormatBytes(long bytes) =>
        bytes >= 1024 * 1024 ? $"{bytes / (1024.0 * 1024.0):0.##} MB" : $"{bytes / 1024.0:0.##} KiB";
}
