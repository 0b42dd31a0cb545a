using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests;

[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class InferenceMemoryTests
{
    /// <summary>The review's 99-byte model: c = ConstantOfShape(n) (float32 zeros), y = ReduceSum(c); n is an int64 [1] input.</summary>
    private static readonly byte[] Bomb = Convert.FromHexString(
        "080842040a00100d3a590a1b0a016e1201631a026e31220f436f6e7374616e744f6653686170650a150a01631201791a026e32220952656475636553756d1201675a0f0a016e120a0a08080712040a020801620f0a0179120a0a08080112040a020801");

    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ModelThatAllocates400MB_GivesTheMemoryBackWhenItsTaskEnds()
    {
        await using var node = await NodeProcess.StartAsync();
        using var model = new ByteArrayContent(Bomb);
        model.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        var uploaded = await (await node.Client.PutAsync("/api/models", model).WaitAsync(Limit)).Content.ReadFromJsonAsync<JsonObject>();
        var sha256 = uploaded!["sha256"]!.GetValue<string>();
        var before = ResidentMB(node.Pid);

        var task = """{"type":"inference","requirements":{"cpu":1,"memoryMB":64},"data":{"model":"SHA","inputs":{"n":{"type":"int64","shape":[1],"data":[100000000]}}}}""".Replace("SHA", sha256, StringComparison.Ordinal);
        using var body = new StringContent(task, System.Text.Encoding.UTF8, "application/json");
        var result = await (await node.Client.PostAsync("/api/tasks/execute?wait=60s", body).WaitAsync(Limit)).Content.ReadFromJsonAsync<JsonObject>();
        var after = ResidentMB(node.Pid);
        var health = await node.Client.GetAsync("/health/live").WaitAsync(Limit);

        Assert.Equal("completed", result!["state"]!.GetValue<string>());
        Assert.True(ResidentPeakMB(node.Pid) >= before + 300, "the run allocated its 400 MB");

        // The session stays cached, but not the 400 MB buffer of its run.
        Assert.InRange(after, 0, before + 150);
        Assert.True(health.IsSuccessStatusCode);
    }

    private static long ResidentMB(int pid) => StatusKB(pid, "VmRSS:") / 1024;

    private static long ResidentPeakMB(int pid) => StatusKB(pid, "VmHWM:") / 1024;

    private static long StatusKB(int pid, string field) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field, StringComparison.Ordinal))[field.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
}
