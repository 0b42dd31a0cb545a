using System.Text.RegularExpressions;
using Wasmtime;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>Turns Wasmtime errors and traps into reasons a person can act on.</summary>
internal static partial class WasmFailures
{
    /// <summary>
    /// A Wasmtime error on one line without its backtrace: the headline (unless it only announces the
    /// backtrace) followed by each "Caused by" line.
    /// </summary>
    public static string Cause(string message)
    {
        var index = message.IndexOf("Caused by:", StringComparison.Ordinal);
        var headline = message.Split('\n', 2)[0].Trim();
        if (index < 0)
        {
            return headline;
        }

        var causes = message[(index + "Caused by:".Length)..]
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => NumberedCause().Replace(line, string.Empty))
            .Where(line => line.Length > 0);
        var parts = headline.StartsWith("error while executing", StringComparison.Ordinal) || headline.Length == 0
            ? causes
            : causes.Prepend(headline.TrimEnd(':'));
        return string.Join(": ", parts);
    }

    /// <summary>The name of the wasm function a trap happened in, when the module has a name section.</summary>
    public static string? TopFunction(WasmtimeException exception)
    {
        var frame = exception.Frames is { Count: > 0 } frames ? frames[0] : null;
        return string.IsNullOrEmpty(frame?.FunctionName) ? null : frame.FunctionName;
    }

    /// <summary>The reason for a trap; <paramref name="memoryNote"/> is added where memory may be the cause.</summary>
    public static WasmTaskException FromTrap(TrapException trap, ulong fuel, string? memoryNote)
    {
        var where = TopFunction(trap) is { } function ? $" in function {function}" : string.Empty;
        var note = memoryNote is null ? string.Empty : $" ({memoryNote})";
        return trap.Type switch
        {
            TrapCode.OutOfFuel => new WasmTaskException(WasmFailure.OutOfFuel, $"out of fuel: the module used its whole budget of {fuel} fuel units (config.fuel){where}", trap),
            TrapCode.StackOverflow => new WasmTaskException(WasmFailure.StackOverflow, $"stack overflow: the call stack of {WasmDefaults.WasmStackBytes / 1024} KiB is exhausted (deep or unbounded recursion){where}", trap),
            TrapCode.Unreachable => new WasmTaskException(WasmFailure.Trap, $"wasm trap: unreachable instruction executed{where}{note}", trap),
            TrapCode.MemoryOutOfBounds => new WasmTaskException(WasmFailure.Trap, $"wasm trap: out of bounds memory access{where}{note}", trap),
            _ => new WasmTaskException(WasmFailure.Trap, $"{Cause(trap.Message)}{where}", trap),
        };
    }

    /// <summary>Reads "unknown import: `env::foo` has not been defined" as <c>env.foo</c>.</summary>
    public static string? UnknownImport(string message)
    {
        var match = UnknownImportPattern().Match(message);
        return match.Success ? $"{match.Groups[1].Value}.{match.Groups[2].Value}" : null;
    }

    [GeneratedRegex(@"^\d+:\s*")]
    private static partial Regex NumberedCause();

    [GeneratedRegex(@"unknown import: `(.+?)::(.+?)` has not been defined")]
    private static partial Regex UnknownImportPattern();
}
