using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests;

/// <summary>
/// ONNX_MEMORY_ARENA=on where workers hold themselves with RLIMIT_DATA (the node as an unprivileged user, which cannot
/// make memory groups): the arena grows by what a run asks for, so a task whose buffers fit its reservation completes.
/// </summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class OnnxMemoryArenaProcessTests
{
    /// <summary>c = ConstantOfShape(n) (float32 zeros), y = ReduceSum(c); n is an int64 [1] input.</summary>
    private static readonly byte[] Fill = WorkerIsolationTests.Bomb;

    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ArenaOn_UnderRlimit_ATaskWhoseBuffersFitItsReservation_Completes()
    {
        var environment = new Dictionary<string, string> { ["ONNX_MEMORY_ARENA"] = "on" };
        await using var node = await StartUnprivilegedAsync(environment);
        using var content = new ByteArrayContent(Fill);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        var model = (await (await node.Client.PutAsync("/api/models", content).WaitAsync(Limit)).Content.ReadFromJsonAsync<JsonObject>())!["sha256"]!.GetValue<string>();

        // 1 MB first (the arena's first region), then 68 MB under a limit of 80 + 16 MB: an arena that doubled its
        // regions would map 128 MB, and RLIMIT_DATA counts what is mapped.
        var small = await RunAsync(node, model, 250_000);
        var large = await RunAsync(node, model, 17_000_000);
        var runtime = (await node.Client.GetFromJsonAsync<JsonObject>("/api/models").WaitAsync(Limit))!["runtime"]!;

        Assert.Equal("completed", small["state"]!.GetValue<string>());
        Assert.True(large["state"]!.GetValue<string>() == "completed", large.ToJsonString());
        Assert.True(runtime["sessionCache"]!["arenaLoads"]!.GetValue<long>() >= 1);
        if (Environment.UserName == "root")
        {
            Assert.Equal("rlimit", runtime["workers"]!["memoryLimit"]!.GetValue<string>());
        }
    }

    private static async Task<NodeProcess> StartUnprivilegedAsync(Dictionary<string, string> environment)
    {
        if (Environment.UserName != "root" || !OperatingSystem.IsLinux())
        {
            return await NodeProcess.StartAsync(environment);
        }

        var directory = NodeProcess.NewDirectory();
        File.SetUnixFileMode(directory, (UnixFileMode)0b111_111_111);
        var node = NodeProcess.LaunchUnder(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"], environment, directory);
        await node.WaitHealthyAsync(Limit);
        return node;
    }

    private static async Task<JsonObject> RunAsync(NodeProcess node, string model, long n)
    {
        var task = new JsonObject
        {
            ["type"] = "inference",
            ["requirements"] = new JsonObject { ["cpu"] = 1, ["memoryMB"] = 80 },
            ["data"] = new JsonObject
            {
                ["model"] = model,
                ["inputs"] = new JsonObject { ["n"] = new JsonObject { ["type"] = "int64", ["shape"] = new JsonArray(1), ["data"] = new JsonArray(n) } },
            },
        };
        var response = await node.Client.PostAsJsonAsync("/api/tasks/execute?wait=60s", task).WaitAsync(Limit);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }
}
