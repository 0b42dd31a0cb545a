using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Tenzro.Node.Runtimes.Wasm;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Runtimes.Wasm;

/// <summary>The <c>compute</c> task through the HTTP API of a real node.</summary>
[Trait("Suite", "wasm")]
public sealed class WasmApiTests : IAsyncLifetime
{
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync();

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private static string Compute(JsonObject data, JsonObject? config = null, double? timeout = null, string priority = "medium")
    {
        var task = new JsonObject { ["type"] = "compute", ["priority"] = priority, ["data"] = data };
        if (config is not null)
        {
            task["config"] = config;
        }

        if (timeout is not null)
        {
            task["timeout"] = timeout;
        }

        return task.ToJsonString();
    }

    private async Task<string> SubmitAcceptedAsync(string json)
    {
        var (status, body) = await _node.Client.SubmitAsync(json);
        Assert.True(status == HttpStatusCode.Accepted, $"submit answered {(int)status}: {body?.ToJsonString()}");
        return body!["taskId"]!.GetValue<string>();
    }

    /// <summary>Submits, waits for the end, and returns the final status and the result body.</summary>
    private async Task<(JsonObject Status, JsonObject Result)> RunAsync(string json, TimeSpan? timeout = null)
    {
        var taskId = await SubmitAcceptedAsync(json);
        var status = await _node.Client.WaitFinalAsync(taskId, timeout);
        var result = await _node.Client.GetJsonAsync($"/api/tasks/{taskId}/result");
        return (status, result);
    }

    private async Task<string> FailureOfAsync(string json)
    {
        var (status, result) = await RunAsync(json);
        Assert.Equal("failed", status["state"]!.GetValue<string>());
        Assert.Equal("failed", result["state"]!.GetValue<string>());
        Assert.Null(result["result"]);
        return status["error"]!.GetValue<string>();
    }

    [Fact]
    public async Task Execute_IssueAddExample_CompletesWithFiveAndDigest()
    {
        const string json = """{"type":"compute","priority":"high","timeout":10,"data":{"wat":"(module (func (export \"add\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))","entry":"add","args":[2,3]},"config":{"fuel":1000000,"memoryLimitMB":16}}""";

        var (status, result) = await RunAsync(json);

        Assert.Equal("completed", status["state"]!.GetValue<string>());
        Assert.Equal("""{"returns":[5]}""", result["result"]!.ToJsonString());
        Assert.Matches("^[0-9a-f]{64}$", result["digest"]!.GetValue<string>());
    }

    [Fact]
    public async Task Execute_SameWorkTwice_GivesEqualDigests()
    {
        var json = Compute(WasmSandbox.Call(WasmModules.Add, "add", 20, 22));

        var (_, first) = await RunAsync(json);
        var (_, second) = await RunAsync(json);

        Assert.Equal(first["digest"]!.GetValue<string>(), second["digest"]!.GetValue<string>());
    }

    [Fact]
    public async Task Execute_Base64Module_Completes()
    {
        var data = new JsonObject { ["module"] = Convert.ToBase64String(WasmModules.AddBinary()), ["entry"] = "add", ["args"] = new JsonArray(2, 3) };

        var (_, result) = await RunAsync(Compute(data));

        Assert.Equal("""{"returns":[5]}""", result["result"]!.ToJsonString());
    }

    [Fact]
    public async Task Execute_ModuleHashOfStoredBlob_Completes()
    {
        var store = new JsonObject { ["type"] = "store", ["data"] = new JsonObject { ["content"] = Convert.ToBase64String(WasmModules.AddBinary()), ["encoding"] = "base64" } };
        var (_, stored) = await RunAsync(store.ToJsonString());
        var hash = stored["result"]!["sha256"]!.GetValue<string>();
        var data = new JsonObject { ["moduleHash"] = hash, ["entry"] = "add", ["args"] = new JsonArray(2, 3) };

        var (_, result) = await RunAsync(Compute(data));

        Assert.Equal("""{"returns":[5]}""", result["result"]!.ToJsonString());
    }

    [Fact]
    public async Task Execute_UnknownModuleHash_Is422NamingTheField()
    {
        var data = new JsonObject { ["moduleHash"] = new string('a', 64), ["entry"] = "add" };

        var (status, body) = await _node.Client.SubmitAsync(Compute(data));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.NotNull(body!["errors"]!["data.moduleHash"]);
    }

    [Fact]
    public async Task Execute_TwoModuleSources_Is422()
    {
        var data = new JsonObject { ["wat"] = WasmModules.Add, ["module"] = Convert.ToBase64String(WasmModules.AddBinary()) };

        var (status, body) = await _node.Client.SubmitAsync(Compute(data));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("exactly one", body!["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task Execute_ArgsNotAnArray_Is400()
    {
        var data = new JsonObject { ["wat"] = WasmModules.Add, ["entry"] = "add", ["args"] = "2,3" };

        var (status, body) = await _node.Client.SubmitAsync(Compute(data));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(body!["errors"]!["data.args"]);
    }

    [Fact]
    public async Task Execute_WasiHello_CapturesStdoutAndEchoesStdin()
    {
        var data = new JsonObject { ["wat"] = WasmModules.Echo, ["stdin"] = "from stdin" };

        var (status, result) = await RunAsync(Compute(data));

        Assert.Equal("completed", status["state"]!.GetValue<string>());
        Assert.Equal(0, result["result"]!["exitCode"]!.GetValue<int>());
        Assert.Equal("hello\nfrom stdin", result["result"]!["stdout"]!.GetValue<string>());
        Assert.Equal("to stderr", result["result"]!["stderr"]!.GetValue<string>());
    }

    [Fact]
    public async Task Execute_InfiniteLoopWithHugeFuel_TimesOutWhileAnotherTaskCompletes()
    {
        var spin = await SubmitAcceptedAsync(Compute(WasmSandbox.Call(WasmModules.Spin, "spin"), new JsonObject { ["fuel"] = 1e15 }, timeout: 2, priority: "high"));
        var add = await SubmitAcceptedAsync(Compute(WasmSandbox.Call(WasmModules.Add, "add", 40, 2), priority: "low"));

        var added = await _node.Client.WaitFinalAsync(add);
        var spinBeside = await _node.Client.GetJsonAsync($"/api/tasks/{spin}");
        var spun = await _node.Client.WaitFinalAsync(spin, Timeouts.Short);

        Assert.Equal("completed", added["state"]!.GetValue<string>());
        // On a loaded machine the small task may take longer than the 2 s timeout: either way the runaway
        // module was not holding the node up.
        Assert.Contains(spinBeside["state"]!.GetValue<string>(), new[] { "running", "timed_out" });
        Assert.Equal("timed_out", spun["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task Execute_OutOfFuel_FailsNamingFuel()
    {
        var error = await FailureOfAsync(Compute(WasmSandbox.Call(WasmModules.Spin, "spin"), new JsonObject { ["fuel"] = 100_000 }));

        Assert.StartsWith("out of fuel", error);
    }

    [Fact]
    public async Task Execute_MemoryGrowPastLimit_FailsNamingTheLimit()
    {
        var error = await FailureOfAsync(Compute(WasmSandbox.Call(WasmModules.Grow, "grow"), new JsonObject { ["memoryLimitMB"] = 16 }));

        Assert.Contains("memory limit is 16 MB", error);
    }

    [Fact]
    public async Task Execute_UnboundedRecursion_FailsWithStackOverflow()
    {
        var error = await FailureOfAsync(Compute(WasmSandbox.Call(WasmModules.Recurse, "f")));

        Assert.StartsWith("stack overflow", error);
    }

    [Fact]
    public async Task Execute_UnknownImport_FailsNamingIt()
    {
        var error = await FailureOfAsync(Compute(WasmSandbox.Call(WasmModules.UnknownImport, "f")));

        Assert.Contains("env.foo", error);
    }

    [Fact]
    public async Task Execute_NotWasmBytes_Fails()
    {
        var data = new JsonObject { ["module"] = Convert.ToBase64String(Encoding.UTF8.GetBytes("#!/bin/sh\necho hi\n")), ["entry"] = "main" };

        var error = await FailureOfAsync(Compute(data));

        Assert.StartsWith("not a WebAssembly module", error);
    }

    [Fact]
    public async Task Execute_GigabytesToStdout_StopsTruncatedAndNodeKeepsServing()
    {
        var error = await FailureOfAsync(Compute(new JsonObject { ["wat"] = WasmModules.Flood }, new JsonObject { ["fuel"] = 1e18 }, timeout: 60));
        var health = await _node.Client.GetAsync("/health", Timeouts.Token());
        var (_, after) = await RunAsync(Compute(WasmSandbox.Call(WasmModules.Add, "add", 1, 1)));

        Assert.Contains("stdout was truncated", error);
        Assert.Contains($"{WasmDefaults.MaxOutputBytes} bytes", error);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("""{"returns":[2]}""", after["result"]!.ToJsonString());
    }

    [Fact]
    public async Task Execute_ProgressImport_MovesStatusProgress()
    {
        var taskId = await SubmitAcceptedAsync(Compute(WasmSandbox.Call(WasmModules.Progress, "halfway"), new JsonObject { ["fuel"] = 1e15 }, timeout: 30));

        var progress = 0.0;
        var deadline = DateTime.UtcNow + Timeouts.Short;
        while (progress < 0.5 && DateTime.UtcNow < deadline)
        {
            var status = await _node.Client.GetJsonAsync($"/api/tasks/{taskId}");
            progress = status["progress"]?.GetValue<double>() ?? 0;
            await Task.Delay(20);
        }

        await _node.Client.DeleteAsync($"/api/tasks/{taskId}", Timeouts.Token());
        var final = await _node.Client.WaitFinalAsync(taskId);

        Assert.Equal(0.5, progress);
        Assert.Equal("cancelled", final["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task Execute_SameModuleTwice_HitsTheCompiledModuleCache()
    {
        var cache = _node.Service<WasmModuleCache>();
        var json = Compute(WasmSandbox.Call(WasmModules.Values, "safe"));

        await RunAsync(json);
        var hitsBefore = cache.MemoryHits;
        await RunAsync(json);

        Assert.Equal(hitsBefore + 1, cache.MemoryHits);
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(_node.DataDirectory, "wasm-cache"), "*.cwasm"));
    }
}

/// <summary>The compiled-module cache across a node restart.</summary>
[Trait("Suite", "wasm")]
public sealed class WasmApiRestartTests
{
    [Fact]
    public async Task Execute_AfterRestart_LoadsCompiledModuleFromDisk()
    {
        var directory = TestNode.NewDirectory();
        try
        {
            var json = new JsonObject
            {
                ["type"] = "compute",
                ["data"] = WasmSandbox.Call(WasmModules.Values, "tenth"),
            }.ToJsonString();

            await using (var first = await TestNode.StartAsync(dataDirectory: directory))
            {
                var (_, body) = await first.Client.SubmitAsync(json);
                await first.Client.WaitFinalAsync(body!["taskId"]!.GetValue<string>());
            }

            await using var second = await TestNode.StartAsync(dataDirectory: directory);
            var (_, again) = await second.Client.SubmitAsync(json);
            var status = await second.Client.WaitFinalAsync(again!["taskId"]!.GetValue<string>());
            var cache = second.Service<WasmModuleCache>();

            Assert.Equal("completed", status["state"]!.GetValue<string>());
            Assert.Equal(1, cache.DiskHits);
            Assert.Equal(0, cache.Compilations);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
