using System.Text;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Runtimes.Wasm;
using Tenzro.Node.Tests.Support;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Runtimes.Wasm;

[Trait("Suite", "wasm")]
public sealed class WasmRuntimeTests : IDisposable
{
    private readonly WasmSandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    [Fact]
    public async Task ExecuteAsync_AddFromWat_ReturnsSum()
    {
        var result = await _sandbox.RunAsync(WasmSandbox.Task(WasmSandbox.Call(WasmModules.Add, "add", 2, 3)));

        Assert.Equal("""{"returns":[5]}""", result.ToJsonString());
    }

    [Fact]
    public async Task ExecuteAsync_AddFromBase64_ReturnsSum()
    {
        var data = new JsonObject { ["module"] = Convert.ToBase64String(WasmModules.AddBinary()), ["entry"] = "add", ["args"] = new JsonArray(40, 2) };

        var result = await _sandbox.RunAsync(WasmSandbox.Task(data));

        Assert.Equal("""{"returns":[42]}""", result.ToJsonString());
    }

    [Fact]
    public async Task ExecuteAsync_AddFromStoredBlob_ReturnsSum()
    {
        var hash = await _sandbox.Blobs.PutAsync(WasmModules.AddBinary(), Timeouts.Token());
        var data = new JsonObject { ["moduleHash"] = hash, ["entry"] = "add", ["args"] = new JsonArray(-7, 2) };

        var result = await _sandbox.RunAsync(WasmSandbox.Task(data));

        Assert.Equal("""{"returns":[-5]}""", result.ToJsonString());
    }

    [Theory]
    [InlineData("big", """["9007199254740993"]""")]
    [InlineData("safe", """[-9007199254740992]""")]
    [InlineData("nan", """["NaN"]""")]
    [InlineData("inf", """["-Infinity"]""")]
    [InlineData("tenth", """[0.1]""")]
    [InlineData("pair", """[-1,2.5]""")]
    [InlineData("none", """[]""")]
    public async Task ExecuteAsync_ResultTypes_FollowTheJsonContract(string entry, string returns)
    {
        var result = await _sandbox.RunAsync(WasmSandbox.Task(WasmSandbox.Call(WasmModules.Values, entry)));

        Assert.Equal(returns, result["returns"]!.ToJsonString());
    }

    [Theory]
    [InlineData("id64", "\"18446744073709551615\"", """[-1]""")]
    [InlineData("id64", "\"-9223372036854775808\"", """["-9223372036854775808"]""")]
    [InlineData("id64", "9007199254740993", """["9007199254740993"]""")]
    [InlineData("idf64", "\"Infinity\"", """["Infinity"]""")]
    [InlineData("idf64", "1e3", """[1000]""")]
    [InlineData("u32", "4294967295", """[-1]""")]
    [InlineData("u32", "7.0", """[7]""")]
    public async Task ExecuteAsync_Arguments_AreConvertedBySignature(string entry, string argument, string returns)
    {
        var data = WasmSandbox.Call(WasmModules.Values, entry, JsonNode.Parse(argument));

        var result = await _sandbox.RunAsync(WasmSandbox.Task(data));

        Assert.Equal(returns, result["returns"]!.ToJsonString());
    }

    [Theory]
    [InlineData("u32", "2.5", "not a whole number in the i32 range")]
    [InlineData("u32", "4294967296", "not a whole number in the i32 range")]
    [InlineData("id64", "1.5", "not a whole number in the i64 range")]
    public async Task ExecuteAsync_ArgumentOutOfRange_FailsNamingIt(string entry, string argument, string reason)
    {
        var failure = await _sandbox.FailAsync(WasmSandbox.Task(WasmSandbox.Call(WasmModules.Values, entry, JsonNode.Parse(argument))));

        Assert.Equal(WasmFailure.BadArguments, failure.Failure);
        Assert.Contains("data.args[0]", failure.Message);
        Assert.Contains(reason, failure.Message);
    }

    [Fact]
    public async Task ExecuteAsync_WrongArgumentCount_FailsWithSignature()
    {
        var failure = await _sandbox.FailAsync(WasmSandbox.Task(WasmSandbox.Call(WasmModules.Add, "add", 1)));

        Assert.Equal(WasmFailure.BadArguments, failure.Failure);
        Assert.Contains("takes 2 argument(s) (i32, i32) -> (i32); data.args has 1", failure.Message);
    }

    [Fact]
    public async Task ExecuteAsync_V128Result_FailsAsUnsupported()
    {
        var failure = await _sandbox.FailAsync(WasmSandbox.Task(WasmSandbox.Call(WasmModules.Values, "vec")));

        Assert.Equal(WasmFailure.BadArguments, failure.Failure);
        Assert.Contains("v128", failure.Message);
    }

    [Fact]
    public async Task ExecuteAsync_UnknownEntry_FailsListingExports()
    {
        var failure = await _sandbox.FailAsync(WasmSandbox.Task(WasmSandbox.Call(WasmModules.Add, "sub")));

        Assert.Equal(WasmFailure.MissingExport, failure.Failure);
        Assert.Contains("'sub'", failure.Message);
        Assert.Contains("add", failure.Message);
    }

    [Fact]
    public async Task ExecuteAsync_WasiCommand_CapturesStdoutStderrAndEchoesStdin()
    {
        var data = new JsonObject { ["wat"] = WasmModules.Echo, ["stdin"] = "echo me" };

        var result = await _sandbox.RunAsync(WasmSandbox.Task(data));

        Assert.Equal(0, result["exitCode"]!.GetValue<int>());
        Assert.Equal("hello\necho me", result["stdout"]!.GetValue<string>());
        Assert.Equal("to stderr", result["stderr"]!.GetValue<string>());
    }

    [Fact]
    public async Task ExecuteAsync_WasiCommandWithoutStdin_ReadsEndOfFile()
    {
        var result = await _sandbox.RunAsync(WasmSandbox.Task(new JsonObject { ["wat"] = WasmModules.Echo }));

        Assert.Equal("hello\n", result["stdout"]!.GetValue<string>());
    }

    [Fact]
    public async Task ExecuteAsync_WasiArgvEnvAndProcExit_ArePassedAndReported()
    {
        var data = new JsonObject
        {
            ["wat"] = WasmModules.ArgsAndEnvironment,
            ["argv"] = new JsonArray("prog", "x"),
            ["env"] = new JsonObject { ["A"] = "1", ["B"] = "two" },
        };

        var result = await _sandbox.RunAsync(WasmSandbox.Task(data));

        Assert.Equal(2, result["exitCode"]!.GetValue<int>());
        Assert.Equal("prog\0x\0A=1\0B=two\0", result["stdout"]!.GetValue<string>());
    }

    [Fact]
    public async Task ExecuteAsync_CommandWithoutStart_FailsSuggestingEntry()
    {
        var failure = await _sandbox.FailAsync(WasmSandbox.Task(new JsonObject { ["wat"] = WasmModules.Add }));

        Assert.Equal(WasmFailure.MissingExport, failure.Failure);
        Assert.Contains("_start", failure.Message);
        Assert.Contains("data.entry", failure.Message);
    }

    [Fact]
    public async Task ExecuteAsync_OutputFlood_StopsAndFailsAsTruncated()
    {
        var task = WasmSandbox.Task(new JsonObject { ["wat"] = WasmModules.Flood }, new JsonObject { ["fuel"] = 1e15, ["maxOutputBytes"] = 100_000 });

        var failure = await _sandbox.FailAsync(task);

        Assert.Equal(WasmFailure.OutputLimit, failure.Failure);
        Assert.Contains("stdout was truncated", failure.Message);
        Assert.Contains("100000 bytes", failure.Message);
    }

    [Fact]
    public async Task ExecuteAsync_OutOfFuel_FailsNamingFuel()
    {
        var task = WasmSandbox.Task(WasmSandbox.Call(WasmModules.Spin, "spin"), new JsonObject { ["fuel"] = 10_000 });

        var failure = await _sandbox.FailAsync(task);

        Assert.Equal(WasmFailure.OutOfFuel, failure.Failure);
        Assert.StartsWith("out of fuel", failure.Message);
        Assert.Contains("10000", failure.Message);
    }

    [Fact]
    public async Task ExecuteAsync_MemoryGrowPastLimit_FailsNamingTheLimit()
    {
        var task = WasmSandbox.Task(WasmSandbox.Call(WasmModules.Grow, "grow"), new JsonObject { ["memoryLimitMB"] = 16 });

        var failure = await _sandbox.FailAsync(task);

        Assert.Equal(WasmFailure.Trap, failure.Failure);
        Assert.Contains("memory limit is 16 MB", failure.Message);
    }

    [Fact]
    public async Task ExecuteAsync_MemoryGrowWithinLimit_Succeeds()
    {
        var task = WasmSandbox.Task(WasmSandbox.Call(WasmModules.Grow, "grow"), new JsonObject { ["memoryLimitMB"] = 64 });

        var result = await _sandbox.RunAsync(task);

        Assert.Equal("[513]", result["returns"]!.ToJsonString());
    }

    [Fact]
    public async Task ExecuteAsync_InitialMemoryAboveLimit_FailsAsMemoryLimit()
    {
        var task = WasmSandbox.Task(WasmSandbox.Call(WasmModules.BigInitialMemory, "f"), new JsonObject { ["memoryLimitMB"] = 16 });

        var failure = await _sandbox.FailAsync(task);

        Assert.Equal(WasmFailure.MemoryLimit, failure.Failure);
        Assert.Contains("16 MB", failure.Message);
    }

    [Fact]
    public async Task ExecuteAsync_UnboundedRecursion_FailsWithStackOverflow()
    {
        var failure = await _sandbox.FailAsync(WasmSandbox.Task(WasmSandbox.Call(WasmModules.Recurse, "f")));

        Assert.Equal(WasmFailure.StackOverflow, failure.Failure);
        Assert.StartsWith("stack overflow", failure.Message);
    }

    [Fact]
    public async Task ExecuteAsync_Unreachable_FailsAsTrap()
    {
        var failure = await _sandbox.FailAsync(WasmSandbox.Task(WasmSandbox.Call(WasmModules.Unreachable, "f")));

        Assert.Equal(WasmFailure.Trap, failure.Failure);
        Assert.Contains("unreachable", failure.Message);
    }

    [Fact]
    public async Task ExecuteAsync_UnknownImport_FailsNamingIt()
    {
        var failure = await _sandbox.FailAsync(WasmSandbox.Task(WasmSandbox.Call(WasmModules.UnknownImport, "f")));

        Assert.Equal(WasmFailure.MissingImport, failure.Failure);
        Assert.Contains("env.foo (function)", failure.Message);
    }

    [Fact]
    public async Task ExecuteAsync_UnknownWasiFunction_FailsNamingIt()
    {
        var wat = """(module (import "wasi_snapshot_preview1" "no_such_call" (func)) (func (export "f")))""";

        var failure = await _sandbox.FailAsync(WasmSandbox.Task(WasmSandbox.Call(wat, "f")));

        Assert.Equal(WasmFailure.MissingImport, failure.Failure);
        Assert.Contains("wasi_snapshot_preview1.no_such_call", failure.Message);
    }

    [Fact]
    public async Task ExecuteAsync_NotWasmBytes_FailsAsNotWasm()
    {
        var data = new JsonObject { ["module"] = Convert.ToBase64String(Encoding.UTF8.GetBytes("hello, not wasm")), ["entry"] = "f" };

        var failure = await _sandbox.FailAsync(WasmSandbox.Task(data));

        Assert.Equal(WasmFailure.NotWasm, failure.Failure);
        Assert.StartsWith("not a WebAssembly module", failure.Message);
    }

    [Fact]
    public async Task ExecuteAsync_TruncatedWasm_FailsAsNotWasm()
    {
        var data = new JsonObject { ["module"] = Convert.ToBase64String(WasmModules.AddBinary()[..20]), ["entry"] = "add" };

        var failure = await _sandbox.FailAsync(WasmSandbox.Task(data));

        Assert.Equal(WasmFailure.NotWasm, failure.Failure);
        Assert.StartsWith("not a WebAssembly module", failure.Message);
    }

    [Fact]
    public async Task ExecuteAsync_BadWat_FailsWithLineAndColumn()
    {
        var failure = await _sandbox.FailAsync(WasmSandbox.Task(WasmSandbox.Call("(module (func (export \"f\") (i32.bogus)))", "f")));

        Assert.Equal(WasmFailure.NotWasm, failure.Failure);
        Assert.Contains("data.wat does not parse", failure.Message);
        Assert.Contains("line 1, column", failure.Message);
    }

    [Fact]
    public async Task ExecuteAsync_InfiniteLoopWithHugeFuel_StopsWhenTokenFires()
    {
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var task = WasmSandbox.Task(WasmSandbox.Call(WasmModules.Spin, "spin"), new JsonObject { ["fuel"] = 1e18 });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _sandbox.RunAsync(task, cancellation.Token));
    }

    [Fact]
    public async Task ExecuteAsync_LongWasiSleep_WakesWhenTokenFires()
    {
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var oneHour = JsonValue.Create(3_600_000_000_000L);
        var task = WasmSandbox.Task(WasmSandbox.Call(WasmModules.Sleep, "sleep", oneHour), new JsonObject { ["wasiClock"] = true });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _sandbox.RunAsync(task, cancellation.Token));
    }

    [Fact]
    public async Task ExecuteAsync_ShortWasiSleepWithClock_Succeeds()
    {
        var task = WasmSandbox.Task(WasmSandbox.Call(WasmModules.Sleep, "sleep", 1_000_000), new JsonObject { ["wasiClock"] = true });

        var result = await _sandbox.RunAsync(task);

        Assert.Equal("[0]", result["returns"]!.ToJsonString());
    }

    [Theory]
    [InlineData("clock", false, 52)]
    [InlineData("clock", true, 0)]
    [InlineData("random", false, 52)]
    [InlineData("random", true, 0)]
    public async Task ExecuteAsync_ClockAndRandom_AnswerEnosysUnlessEnabled(string entry, bool enabled, int errno)
    {
        var config = new JsonObject { ["wasiClock"] = enabled, ["wasiRandom"] = enabled };

        var result = await _sandbox.RunAsync(WasmSandbox.Task(WasmSandbox.Call(WasmModules.ClockAndRandom, entry), config));

        Assert.Equal($"[{errno}]", result["returns"]!.ToJsonString());
    }

    [Fact]
    public async Task ExecuteAsync_SleepWithoutClock_AnswersEnosys()
    {
        var result = await _sandbox.RunAsync(WasmSandbox.Task(WasmSandbox.Call(WasmModules.Sleep, "sleep", 1_000_000)));

        Assert.Equal("[52]", result["returns"]!.ToJsonString());
    }

    [Fact]
    public async Task ExecuteAsync_WithoutScratch_HasNoFilesystem()
    {
        var result = await _sandbox.RunAsync(WasmSandbox.Task(WasmSandbox.Call(WasmModules.Scratch, "write")));

        Assert.Equal("[8]", result["returns"]!.ToJsonString());
    }

    [Fact]
    public async Task ExecuteAsync_WithScratch_WritesIntoTheTaskDirectory()
    {
        var task = WasmSandbox.Task(WasmSandbox.Call(WasmModules.Scratch, "write"), new JsonObject { ["scratch"] = true }, ResourceAmounts.TaskDefault with { StorageMB = 1 });
        var context = _sandbox.Context(task);

        var result = await _sandbox.Runtime.ExecuteAsync(context).WaitAsync(Timeouts.Short);

        Assert.Equal("[0]", result["returns"]!.ToJsonString());
        Assert.Equal("out.txt", File.ReadAllText(Path.Combine(context.ScratchDirectory, "scratch", "out.txt")));
    }

    [Fact]
    public async Task ExecuteAsync_ScratchPastStorageLimit_Stops()
    {
        var config = new JsonObject { ["scratch"] = true, ["fuel"] = 1e15 };
        var task = WasmSandbox.Task(WasmSandbox.Call(WasmModules.Scratch, "fill"), config, ResourceAmounts.TaskDefault with { StorageMB = 1 });

        var failure = await _sandbox.FailAsync(task);

        Assert.Equal(WasmFailure.ScratchLimit, failure.Failure);
        Assert.Contains("requirements.storageMB (1 MB)", failure.Message);
    }

    [Fact]
    public async Task ExecuteAsync_ProgressImport_ReportsToContext()
    {
        var progress = new ProgressLog();

        await _sandbox.RunAsync(WasmSandbox.Task(WasmSandbox.Call(WasmModules.Progress, "run")), progress: progress);

        Assert.Equal([0.25, 0.5, 1.0], progress.Values.ToArray());
    }
}
