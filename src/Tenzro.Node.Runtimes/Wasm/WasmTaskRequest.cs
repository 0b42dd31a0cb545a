using System.Buffers.Text;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>Where a task's module comes from: exactly one of <c>data.wat</c>, <c>data.module</c>, <c>data.moduleHash</c>.</summary>
internal enum WasmModuleSourceKind
{
    Text,
    Base64,
    BlobHash,
}

/// <summary>The module source as given: WAT text, base64 of the binary, or the sha256 of a stored blob.</summary>
internal sealed record WasmModuleSource(WasmModuleSourceKind Kind, string Value);

/// <summary>
/// The <c>data</c> and <c>config</c> of a <c>compute</c> task, checked field by field. <see cref="Parse"/> is the
/// one place that reads them, so submission (Validate) and execution agree on what a task means.
/// </summary>
internal sealed record WasmTaskRequest
{
    public required WasmModuleSource Source { get; init; }

    /// <summary>The exported function to call; null for a WASI command (<c>_start</c>).</summary>
    public string? Entry { get; init; }

    public IReadOnlyList<JsonNode?> Args { get; init; } = [];

    public IReadOnlyList<string> Argv { get; init; } = [];

    public IReadOnlyList<(string Name, string Value)> Environment { get; init; } = [];

    public string? Stdin { get; init; }

    public ulong Fuel { get; init; } = WasmDefaults.Fuel;

    public int MaxOutputBytes { get; init; } = WasmDefaults.MaxOutputBytes;

    public uint MaxTableElements { get; init; } = WasmDefaults.MaxTableElements;

    /// <summary>The most bytes a linear memory may grow to (TaskSpec.MemoryLimitMB).</summary>
    public long MemoryLimitBytes { get; init; }

    public long MemoryLimitMB { get; init; }

    /// <summary>Preopen an empty directory as <c>/scratch</c>.</summary>
    public bool Scratch { get; init; }

    /// <summary>The scratch directory's size limit (requirements.storageMB).</summary>
    public long ScratchLimitBytes { get; init; }

    public bool WasiClock { get; init; }

    public bool WasiRandom { get; init; }

    public bool IsCommand => Entry is null;

    /// <summary>
    /// Reads the task, adding one error per bad field. Cheap: base64 is checked, not decoded, and a module
    /// hash is looked up, not read. Returns null when there is any error.
    /// </summary>
    public static WasmTaskRequest? Parse(TaskSpec task, ValidationErrors validationErrors, BlobStore blobs)
    {
        ArgumentNullException.ThrowIfNull(task);
        var data = task.Data;
        var config = task.Config;
        var errors = validationErrors;
        var before = errors.Count;
        var dataFields = new JsonFields(data, "data", errors);
        var configFields = new JsonFields(config, "config", errors);

        var source = ParseSource(dataFields, errors, blobs);

        var entry = dataFields.OptionalString("entry");
        if (entry is { Length: 0 })
        {
            errors.Add("data.entry", "must name an exported function; leave it out to run the module's _start as a WASI command.");
        }

        var args = ParseArgs(data, entry, errors);
        var argv = ParseArgv(data, errors);
        var environment = ParseEnvironment(data, errors);
        var stdin = dataFields.OptionalString("stdin");

        // A split compute task (CONTRACTS "Split tasks"): a function gets its range [start, end) as two i64 after
        // data.args; a WASI command gets it in TENZRO_RANGE_START and TENZRO_RANGE_END. The whole task is the one range.
        if (Core.Aggregation.Split.SplitRequest.RangeOf(config) is var (rangeStart, rangeEnd))
        {
            args = [.. args, JsonValue.Create(rangeStart), JsonValue.Create(rangeEnd)];
            environment = [.. environment, ("TENZRO_RANGE_START", rangeStart.ToString(CultureInfo.InvariantCulture)), ("TENZRO_RANGE_END", rangeEnd.ToString(CultureInfo.InvariantCulture))];
        }

        var fuel = OptionalInteger(configFields, "fuel", 1, ulong.MaxValue, errors) ?? WasmDefaults.Fuel;
        var maxOutput = OptionalInteger(configFields, "maxOutputBytes", 1, WasmDefaults.MaxOutputBytesCeiling, errors) ?? WasmDefaults.MaxOutputBytes;
        var maxTable = OptionalInteger(configFields, "maxTableElements", 1, WasmDefaults.MaxTableElementsCeiling, errors) ?? WasmDefaults.MaxTableElements;
        var scratch = configFields.OptionalBool("scratch") ?? false;
        var wasiClock = configFields.OptionalBool("wasiClock") ?? false;
        var wasiRandom = configFields.OptionalBool("wasiRandom") ?? false;

        // The sandbox limit of CONTRACTS.md (as TaskSpec.MemoryLimitMB).
        var memoryLimitMB = task.Requirements.MemoryMB;
        if (configFields.OptionalDouble("memoryLimitMB", "must be a number of megabytes.") is { } limit)
        {
            if (limit < 1 || double.IsNaN(limit))
            {
                errors.Add("config.memoryLimitMB", $"must be at least 1 MB; got {limit.ToString(CultureInfo.InvariantCulture)}.");
            }
            else if (limit > task.Requirements.MemoryMB)
            {
                errors.Add("config.memoryLimitMB", $"{limit.ToString(CultureInfo.InvariantCulture)} MB is above requirements.memoryMB ({task.Requirements.MemoryMB} MB), the memory reserved for the task; raise requirements.memoryMB as well.");
            }
            else
            {
                memoryLimitMB = (long)limit;
            }
        }

        if (scratch && task.Requirements.StorageMB <= 0)
        {
            errors.Add("config.scratch", "needs requirements.storageMB above 0: it is the size limit of the /scratch directory.");
        }

        if (source is null || errors.Count > before)
        {
            return null;
        }

        return new WasmTaskRequest
        {
            Source = source,
            Entry = entry,
            Args = args,
            Argv = argv,
            Environment = environment,
            Stdin = stdin,
            Fuel = (ulong)fuel,
            MaxOutputBytes = (int)maxOutput,
            MaxTableElements = (uint)maxTable,
            MemoryLimitMB = memoryLimitMB,
            MemoryLimitBytes = checked(memoryLimitMB * 1024 * 1024),
            Scratch = scratch,
            ScratchLimitBytes = checked(task.Requirements.StorageMB * 1024 * 1024),
            WasiClock = wasiClock,
            WasiRandom = wasiRandom,
        };
    }

    private static WasmModuleSource? ParseSource(JsonFields data, ValidationErrors errors, BlobStore blobs)
    {
        var wat = data.OptionalString("wat");
        var module = data.OptionalString("module");
        var hash = data.OptionalString("moduleHash");
        var given = (wat is null ? 0 : 1) + (module is null ? 0 : 1) + (hash is null ? 0 : 1);
        if (given == 0)
        {
            if (data["wat"] is null && data["module"] is null && data["moduleHash"] is null)
            {
                errors.Add("data", "needs the module: data.wat (WebAssembly text), data.module (base64 of the binary) or data.moduleHash (sha256 of a stored blob).");
            }

            return null;
        }

        if (given > 1)
        {
            errors.Add("data", "give exactly one of data.wat, data.module and data.moduleHash.");
            return null;
        }

        if (wat is not null)
        {
            if (string.IsNullOrWhiteSpace(wat))
            {
                errors.Add("data.wat", "is empty; give the module in WebAssembly text format, e.g. (module ...).");
                return null;
            }

            return new WasmModuleSource(WasmModuleSourceKind.Text, wat);
        }

        if (module is not null)
        {
            if (module.Length == 0 || !Base64.IsValid(module.AsSpan(), out var decodedLength) || decodedLength == 0)
            {
                errors.Add("data.module", "must be the module's binary in base64 (standard alphabet, with padding).");
                return null;
            }

            return new WasmModuleSource(WasmModuleSourceKind.Base64, module);
        }

        if (!BlobStore.IsHash(hash))
        {
            errors.Add("data.moduleHash", "must be the lowercase hex sha256 (64 characters) of a stored blob.");
            return null;
        }

        if (!blobs.Exists(hash!))
        {
            errors.Add("data.moduleHash", $"no blob {hash} is stored on this node; store the module first (a store task with data.encoding \"base64\").");
            return null;
        }

        return new WasmModuleSource(WasmModuleSourceKind.BlobHash, hash!);
    }

    private static List<JsonNode?> ParseArgs(JsonObject data, string? entry, ValidationErrors errors)
    {
        if (data["args"] is not { } node)
        {
            return [];
        }

        if (node is not JsonArray array)
        {
            errors.AddTypeError("data.args", "must be an array of numbers, e.g. [2, 3].");
            return [];
        }

        if (entry is null)
        {
            errors.Add("data.args", "needs data.entry, the exported function the arguments are passed to.");
        }

        for (var i = 0; i < array.Count; i++)
        {
            var kind = array[i]?.GetValueKind();
            if (kind == JsonValueKind.String)
            {
                var text = array[i]!.GetValue<string>();
                if (!WasmValues.IsNumericText(text))
                {
                    errors.Add($"data.args[{i}]", $"\"{text}\" is not a number; strings are accepted for large i64 values and for \"NaN\", \"Infinity\" and \"-Infinity\".");
                }
            }
            else if (kind != JsonValueKind.Number)
            {
                errors.AddTypeError($"data.args[{i}]", "must be a number (or a string holding one).");
            }
        }

        return [.. array];
    }

    private static List<string> ParseArgv(JsonObject data, ValidationErrors errors)
    {
        if (data["argv"] is not { } node)
        {
            return [];
        }

        if (node is not JsonArray array)
        {
            errors.AddTypeError("data.argv", "must be an array of strings, argv[0] first (by convention the program name).");
            return [];
        }

        var argv = new List<string>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i]?.GetValueKind() != JsonValueKind.String)
            {
                errors.AddTypeError($"data.argv[{i}]", "must be a string.");
                continue;
            }

            argv.Add(array[i]!.GetValue<string>());
        }

        return argv;
    }

    private static List<(string, string)> ParseEnvironment(JsonObject data, ValidationErrors errors)
    {
        if (data["env"] is not { } node)
        {
            return [];
        }

        if (node is not JsonObject env)
        {
            errors.AddTypeError("data.env", "must be an object of strings, e.g. {\"NAME\": \"value\"}.");
            return [];
        }

        var variables = new List<(string, string)>(env.Count);
        foreach (var (name, value) in env)
        {
            if (name.Length == 0 || name.Contains('=', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal))
            {
                errors.Add($"data.env.{name}", "is not a valid variable name (empty, or holds '=' or NUL).");
                continue;
            }

            if (value?.GetValueKind() != JsonValueKind.String)
            {
                errors.AddTypeError($"data.env.{name}", "must be a string.");
                continue;
            }

            variables.Add((name, value.GetValue<string>()));
        }

        return variables;
    }

    private static decimal? OptionalInteger(JsonFields config, string name, decimal minimum, decimal maximum, ValidationErrors errors)
    {
        if (config.OptionalNumberText(name) is not { } text)
        {
            return null;
        }

        if (!WasmValues.TryParseInteger(text, out var value) || value < minimum || value > maximum)
        {
            errors.Add(config.PathOf(name), $"must be a whole number from {minimum} to {maximum}; got {text}.");
            return null;
        }

        return value;
    }
}
