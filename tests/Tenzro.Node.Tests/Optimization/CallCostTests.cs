using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Optimization;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Runtimes.Onnx;
using Tenzro.Node.Tests.Runtimes.Onnx;
using Tenzro.Node.Tests.Runtimes.Wasm;

namespace Tenzro.Node.Tests.Optimization;

/// <summary>
/// What a task's estimate is kept under: the module or model, and the call (what it is given). Only the same call may
/// refuse a task, and a Wasm fuel budget bounds the work without being it.
/// </summary>
[Trait("Suite", "optimization")]
public sealed class CallCostTests
{
    private const string Module = "wasm:" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12";

    private static TaskCostInput WasmCall(string call, double fuel = 1e10) =>
        new(Module, fuel) { CallKey = Module + "#" + call, WorkScales = false };

    private static TaskSpec Task(string id, double timeoutSeconds = 60) =>
        new() { TaskId = id, Type = "compute", Timeout = TimeSpan.FromSeconds(timeoutSeconds), Data = [] };

    private static void Run(CostModel model, FakeTimeProvider clock, string id, TaskCostInput input, TimeSpan duration)
    {
        model.Plan(Task(id), input);
        clock.Advance(duration);
        model.Record(id, duration, null);
    }

    [Fact]
    public void Refusal_AnotherCallOfAModuleMeasuredSlow_IsNotRefused_AndIsEstimatedFromTheModule()
    {
        // run(1400000000) took 10 s, five times; run(1) is another call of the same module.
        var clock = new FakeTimeProvider();
        var model = new CostModel(clock, profiler: MachineProfiles.BenchmarkedProfiler(1e9));
        for (var i = 0; i < 5; i++)
        {
            Run(model, clock, $"long-{i}", WasmCall("long"), TimeSpan.FromSeconds(10));
        }

        var otherCall = model.Refusal(Task("short", timeoutSeconds: 1), WasmCall("short"));
        var otherEstimate = model.Plan(Task("short-plan", timeoutSeconds: 1), WasmCall("short"))!;
        var sameCall = model.Refusal(Task("long-again", timeoutSeconds: 1), WasmCall("long"));

        Assert.Null(otherCall);
        Assert.Equal(EstimateBasis.History, otherEstimate.Basis);
        Assert.Equal(10_000, otherEstimate.DurationMs, precision: 3);
        Assert.False(otherEstimate.SameCall);
        Assert.NotNull(sameCall);
        Assert.Contains("5 measured runs of the same module, entry and input", sameCall, StringComparison.Ordinal);
    }

    [Fact]
    public void Estimate_FuelBudgetRaisedOnAMeasuredCall_StaysWhatTheCallTook()
    {
        // The benchmark reads 1e10 fuel as 10 s; the call really takes 2 s. Ten times the fuel is not ten times the work.
        var clock = new FakeTimeProvider();
        var model = new CostModel(clock, profiler: MachineProfiles.BenchmarkedProfiler(1e9));
        var first = model.Plan(Task("first"), WasmCall("c"))!;
        for (var i = 0; i < 3; i++)
        {
            Run(model, clock, $"run-{i}", WasmCall("c"), TimeSpan.FromSeconds(2));
        }

        var moreFuel = model.Plan(Task("more-fuel", timeoutSeconds: 10), WasmCall("c", fuel: 1e11))!;
        var refusal = model.Refusal(Task("more-fuel-2", timeoutSeconds: 10), WasmCall("c", fuel: 1e11));
        var otherCallMoreFuel = model.Plan(Task("other", timeoutSeconds: 10), WasmCall("d", fuel: 1e11))!;

        Assert.Equal((EstimateBasis.Benchmark, 10_000.0), (first.Basis, first.DurationMs));
        Assert.Equal(2_000, moreFuel.DurationMs, precision: 3);
        Assert.True(moreFuel.SameCall);
        Assert.Null(refusal);
        Assert.Equal(2_000, otherCallMoreFuel.DurationMs, precision: 3);
    }

    [Fact]
    public void Estimate_ModelWithMoreRows_ScalesItsMultiplyAddsButNotItsOperators()
    {
        // 1e6 multiply-adds a row at 1e9 ops/s is 1 ms a row; 5 operators add 5 µs whatever the rows. Runs of one row
        // took twice the benchmark figure, so 64 rows are estimated at twice theirs.
        var clock = new FakeTimeProvider();
        var model = new CostModel(clock, profiler: MachineProfiles.BenchmarkedProfiler(1e9));
        TaskCostInput Rows(int rows) => new("model:m", 1e6 * rows, TaskCostInput.FloatSpeed) { CallKey = $"model:m#{rows}", FixedMs = 0.005 };
        var first = model.Plan(Task("one"), Rows(1))!;
        for (var i = 0; i < 3; i++)
        {
            Run(model, clock, $"one-{i}", Rows(1), TimeSpan.FromMicroseconds(2010));
        }

        var many = model.Plan(Task("many"), Rows(64))!;
        var manyRefusal = model.Refusal(Task("many-refused", timeoutSeconds: 0.001), Rows(64));

        Assert.Equal(1.005, first.DurationMs, precision: 3);
        Assert.Equal(2 * 64.005, many.DurationMs, precision: 2);
        Assert.False(many.SameCall);
        Assert.Null(manyRefusal); // other shapes: never refused on the model's history alone
    }

    [Fact]
    public void History_CallsBeyondTheKeysKept_TheLeastRecentlyRunAreForgotten_TheModuleStays()
    {
        var clock = new FakeTimeProvider();
        var model = new CostModel(clock);
        for (var i = 0; i <= CostModel.KeptKeys; i++)
        {
            Run(model, clock, $"call-{i}", WasmCall($"c{i}"), TimeSpan.FromMilliseconds(5));
        }

        Assert.Null(model.History(Module + "#c0"));
        Assert.Null(model.History(Module + "#c999"));
        Assert.NotNull(model.History(Module + $"#c{CostModel.KeptKeys}"));
        Assert.NotNull(model.History(Module + "#c1002"));
        Assert.Equal(CostModel.KeptKeys + 1, model.History(Module)!.Runs);
    }

    [Fact]
    public void DescribeCost_WasmCalls_SameModuleKey_CallKeyByWhatTheCallIsGiven_NotByItsFuel()
    {
        using var sandbox = new WasmSandbox();
        const string wat = "(module (func (export \"f\") (param i32) (result i32) local.get 0))";
        TaskCostInput Describe(int arg, ulong? fuel = null, string? stdin = null)
        {
            var data = WasmSandbox.Call(wat, "f", arg);
            if (stdin is not null)
            {
                data["stdin"] = stdin;
            }

            return sandbox.Runtime.DescribeCost(WasmSandbox.Task(data, fuel is { } f ? new JsonObject { ["fuel"] = f } : null));
        }

        var one = Describe(1);
        var oneAgain = Describe(1);
        var two = Describe(2);
        var oneMoreFuel = Describe(1, fuel: 100_000_000_000);
        var oneWithStdin = Describe(1, stdin: "input");

        Assert.StartsWith("wasm:", one.Key, StringComparison.Ordinal);
        Assert.Equal(one.Key, two.Key);
        Assert.Equal(one.CallKey, oneAgain.CallKey);
        Assert.NotEqual(one.CallKey, two.CallKey);
        Assert.NotEqual(one.CallKey, oneWithStdin.CallKey);
        Assert.Equal(one.CallKey, oneMoreFuel.CallKey);
        Assert.Equal(1e11, oneMoreFuel.WorkOps);
        Assert.False(one.WorkScales);
    }

    [Theory]
    [InlineData("{\"inputs\":{\"x\":{\"type\":\"float32\",\"shape\":[1,4],\"data\":[1,2,3,4]}}}", 1)]
    [InlineData("{\"inputs\":{\"x\":{\"type\":\"float32\",\"shape\":[64,4],\"data\":[]}}}", 64)]
    [InlineData("{\"batch\":[{\"x\":{\"shape\":[2,4]}},{\"x\":{\"shape\":[3,4]}},{\"x\":{\"shape\":[]}}]}", 6)]
    [InlineData("{\"inputs\":{\"x\":{\"shape\":[2,4]},\"y\":{\"shape\":[5]}}}", 5)]
    [InlineData("{\"inputs\":{\"x\":{\"shape\":\"bad\"}}}", 1)]
    [InlineData("{\"inputs\":{\"x\":{\"shape\":[-3,4]}}}", 1)]
    public void InputRows_TheFirstDimensionOfTheLargestInputPerSet_Summed(string data, long rows)
    {
        Assert.Equal(rows, InferenceRuntime.InputRows(JsonNode.Parse(data)!.AsObject()).Rows);
    }

    [Fact]
    public void InputRows_OtherShapes_AnotherCall_SameShapesOtherValues_TheSameCall()
    {
        static string Shapes(string json) => InferenceRuntime.InputRows(JsonNode.Parse(json)!.AsObject()).Shapes;

        var one = Shapes("{\"inputs\":{\"x\":{\"type\":\"float32\",\"shape\":[1,4],\"data\":[1,2,3,4]}}}");
        var oneOtherValues = Shapes("{\"inputs\":{\"x\":{\"type\":\"float32\",\"shape\":[1,4],\"data\":[5,6,7,8]}}}");
        var many = Shapes("{\"inputs\":{\"x\":{\"type\":\"float32\",\"shape\":[64,4],\"data\":[]}}}");

        Assert.Equal(one, oneOtherValues);
        Assert.NotEqual(one, many);
    }

    [Theory]
    [InlineData("mlp.onnx", 5)] // MatMul, Add, Relu, MatMul, Add
    [InlineData("linear.onnx", 2)] // MatMul, Add
    public void OnnxOperators_CommittedModels_CountsTheNodesOfTheGraph(string file, int operators)
    {
        using var stream = new MemoryStream(ModelApi.CommittedModel(file));

        Assert.Equal(operators, OnnxOperators.Count(stream));
    }

    [Fact]
    public void OnnxOperators_TruncatedOrNotAModel_IsNull_AndNeverThrows()
    {
        var model = ModelApi.CommittedModel("mlp.onnx");
        var random = new Random(7);
        var garbage = new byte[4096];
        random.NextBytes(garbage);

        int? Count(byte[] bytes) => OnnxOperators.Count(new MemoryStream(bytes));

        Assert.Null(Count([]));
        Assert.Null(Count(model[..(model.Length / 2)]));
        Assert.Null(Count("not a model"u8.ToArray()));
        for (var cut = 0; cut < model.Length; cut++)
        {
            var count = Count(model[..cut]);
            Assert.True(count is null or >= 0 and <= 5, $"cut at {cut}: {count}");
        }

        for (var i = 0; i < 200; i++)
        {
            random.NextBytes(garbage);
            _ = Count(garbage);
        }
    }
}
