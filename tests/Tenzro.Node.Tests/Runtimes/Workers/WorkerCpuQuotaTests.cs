using System.Net;
using System.Text.Json.Nodes;
using Tenzro.Node.Runtimes.Onnx;
using Tenzro.Node.Tests.Runtimes.Onnx;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Runtimes.Workers;

/// <summary>
/// The CPU-seconds quota charges what a worker's task used: an inference held to half a core (its worker's CPU quota)
/// that keeps it busy for seconds uses up a quota of one CPU-second.
/// </summary>
[Trait("Suite", "inference")]
public sealed class WorkerCpuQuotaTests
{
    /// <summary>c = ConstantOfShape(n) (n an int64 [2]), m = MatMul(c, c), y = ReduceSum(m): seconds of one core's work.</summary>
    private static readonly byte[] SquareMatMul = OnnxModelWriter.Write(new OnnxGraph(
        "square",
        [
            new OnnxNode("ConstantOfShape", ["n"], ["c"], "fill"),
            new OnnxNode("MatMul", ["c", "c"], ["m"], "square"),
            new OnnxNode("ReduceSum", ["m"], ["y"], "sum"),
        ],
        [],
        [new OnnxValueInfo("n", OnnxDataType.Int64, [OnnxDim.Fixed(2)])],
        [new OnnxValueInfo("y", OnnxDataType.Float, [OnnxDim.Fixed(1), OnnxDim.Fixed(1)])]));

    [Fact]
    public async Task InferenceOnHalfACore_IsChargedTheCpuItsWorkerUsed()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["QUOTA_LOOPBACK"] = "true", ["QUOTA_CPU_SECONDS_PER_HOUR"] = "1" });
        var model = await node.Client.UploadAsync(SquareMatMul);
        var busy = new JsonObject
        {
            ["type"] = "inference",
            ["requirements"] = new JsonObject { ["cpu"] = 0.5, ["memoryMB"] = 512 },
            ["data"] = new JsonObject
            {
                ["model"] = model,
                ["inputs"] = new JsonObject { ["n"] = ModelApi.Tensor("int64", [2], new JsonArray(5000, 5000)) },
            },
        };

        // 250 GFLOP on one thread: seconds of CPU, spread over twice as long by the worker's quota of half a core.
        var ran = await node.Client.RunAsync(busy);
        var (next, body) = await node.Client.SubmitAsync("""{"type":"process","data":{"input":[1,2],"config":{"op":"sum"}}}""");

        Assert.Equal("completed", ran["state"]!.GetValue<string>());
        Assert.True(next == HttpStatusCode.TooManyRequests, $"{(int)next}: {body?.ToJsonString()}");
        Assert.Contains("QUOTA_CPU_SECONDS_PER_HOUR", body!.ToJsonString());
    }
}
