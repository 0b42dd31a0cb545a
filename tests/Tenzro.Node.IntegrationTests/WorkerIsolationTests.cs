using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests;

/// <summary>
/// ONNX Runtime and ML.NET run in worker processes held to each task's memory: hostile tasks fail alone, the node goes on
/// serving, and its memory (the node's and its workers' resident sets) stays bounded.
/// </summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class WorkerIsolationTests
{
    /// <summary>The review's 99-byte model: c = ConstantOfShape(n) (float32 zeros), y = ReduceSum(c); n is an int64 [1] input.</summary>
    internal static readonly byte[] Bomb = Convert.FromHexString(
        "080842040a00100d3a590a1b0a016e1201631a026e31220f436f6e7374616e744f6653686170650a150a01631201791a026e32220952656475636553756d1201675a0f0a016e120a0a08080712040a020801620f0a0179120a0a08080112040a020801");

    /// <summary>c = ConstantOfShape(n) (n an int64 [2]), m = MatMul(c, c), y = ReduceSum(m): seconds of work in little memory.</summary>
    private static readonly byte[] Slow = Convert.FromHexString(
        "08083a7e0a1d0a016e1201631a0466696c6c220f436f6e7374616e744f6653686170650a190a01630a016312016d1a0673717561726522064d61744d756c0a160a016d1201791a0373756d220952656475636553756d1204736c6f775a0f0a016e120a0a08080712040a02080262130a0179120e0a0c080112080a0208010a02080142040a00100d");

    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    /// <param name="withoutMemoryGroups">
    /// Run the node as an unprivileged user (when the tests run as root), where it cannot make cgroup memory groups and
    /// its workers hold themselves with RLIMIT_DATA; otherwise the node uses groups where it may make them.
    /// </param>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ThreeBombsOverTheirReservation_FailWithMemoryLimit_WhileTheNodeAndItsWorkersStayBounded(bool withoutMemoryGroups)
    {
        await using var node = await StartAsync(withoutMemoryGroups);
        var bomb = await UploadAsync(node, Bomb);
        var before = ResidentMB(node.Pid);
        using var sampling = new CancellationTokenSource();
        var peak = Task.Run(() => PeakResidentMB(node.Pid, sampling.Token));

        // Each asks for 2 GB of float32 zeros under a 64 MB reservation; in the node's process three would take 6 GB.
        var runs = Enumerable.Range(0, 3).Select(_ => RunAsync(node, TaskBody(bomb, 64, "[500000000]"))).ToArray();
        var results = await Task.WhenAll(runs).WaitAsync(Limit);
        await sampling.CancelAsync();
        var peakMB = await peak;
        var after = await RunAsync(node, TaskBody(bomb, 64, "[1000]"));

        Assert.All(results, r =>
        {
            Assert.Equal("failed", r["state"]!.GetValue<string>());
            Assert.StartsWith("memory limit", r["error"]!.GetValue<string>(), StringComparison.Ordinal);
        });
        Assert.Equal("completed", after["state"]!.GetValue<string>());
        Assert.True((await node.Client.GetAsync("/health/live")).IsSuccessStatusCode);
        var workers = (await node.Client.GetFromJsonAsync<JsonObject>("/api/models"))!["runtime"]!["workers"]!;
        Assert.Equal(3, workers["memoryLimitFailures"]!.GetValue<long>());
        if (withoutMemoryGroups && Environment.UserName == "root")
        {
            Assert.Equal("rlimit", workers["memoryLimit"]!.GetValue<string>());
        }

        // Three workers (about 100 MB each at rest) held to 64 MB + 16 MB of work each, beside the node.
        Assert.True(peakMB < before + 750, $"the node and its workers reached {peakMB} MB from the node's {before} MB");
        Assert.True(ResidentPeakMB(node.Pid) < before + 150, "the node's own memory did not grow with the models");
    }

    [Fact]
    public async Task WorkerKilledMidTask_FailsThatTask_AndTheNextInferenceWorks()
    {
        await using var node = await NodeProcess.StartAsync();
        var slow = await UploadAsync(node, Slow);
        var bomb = await UploadAsync(node, Bomb);
        var submitted = await node.Client.PostAsync("/api/tasks/execute", Json(TaskBody(slow, 512, "[6000,6000]")));
        var taskId = (await submitted.Content.ReadFromJsonAsync<JsonObject>())!["taskId"]!.GetValue<string>();

        // Mid-task: the worker holds the 144 MB of c on top of what it takes at rest.
        var worker = await WaitForAsync(() => Workers(node.Pid).FirstOrDefault(pid => ResidentMB(pid) > 200), "a worker running the task");
        using (var kill = System.Diagnostics.Process.Start("kill", ["-9", worker.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill!.WaitForExitAsync();
        }

        var killed = await EndedAsync(node, taskId);
        var next = await RunAsync(node, TaskBody(bomb, 64, "[1000]"));

        Assert.Equal("failed", killed!["state"]!.GetValue<string>());
        Assert.Contains("worker running this task stopped before it answered (killed by signal 9", killed["error"]!.GetValue<string>());
        Assert.Equal("completed", next["state"]!.GetValue<string>());
        Assert.False(node.HasExited);
    }

    /// <summary>
    /// A worker running a task that reserved a quarter of a core is held to it by a CPU quota (a cgroup v1 cpu group
    /// beneath the node's), and given back to the node's group when the task ends.
    /// </summary>
    [Fact]
    public async Task InferenceWithAQuarterOfACore_RunsInAWorkerHeldToAQuarterOfACore()
    {
        await using var node = await NodeProcess.StartAsync();
        var slow = await UploadAsync(node, Slow);
        var submitted = await node.Client.PostAsync("/api/tasks/execute", Json(TaskBody(slow, 256, "[2500,2500]", cpu: 0.25)));
        var taskId = (await submitted.Content.ReadFromJsonAsync<JsonObject>())!["taskId"]!.GetValue<string>();
        if (!Core.Resources.ThreadCpu.CanLimit)
        {
            // Where no group can be made (not root, no cgroup v1 cpu controller), the worker runs ⌈0.25⌉ = 1 thread.
            Assert.Equal("completed", (await EndedAsync(node, taskId))["state"]!.GetValue<string>());
            Assert.All(Workers(node.Pid), pid => Assert.Equal(CpuGroup(node.Pid), CpuGroup(pid)));
            return;
        }

        int worker;
        try
        {
            worker = await WaitForAsync(() => Workers(node.Pid).FirstOrDefault(pid => CpuGroup(pid) != CpuGroup(node.Pid)), "a worker in a CPU group of its own");
        }
        catch (TimeoutException e)
        {
            // Say why: the task's state, and the node's warning if the kernel refused the group (event 7204).
            var status = await node.Client.GetStringAsync($"/api/tasks/{taskId}");
            var output = node.Output;
            throw new TimeoutException($"{e.Message}; the task: {status}; the node's last output: {output[Math.Max(0, output.Length - 4000)..]}", e);
        }

        var group = CpuGroup(worker);
        var quota = File.ReadAllText(Path.Combine(CpuGroupDirectory(worker), "cpu.cfs_quota_us")).Trim();
        var period = File.ReadAllText(Path.Combine(CpuGroupDirectory(worker), "cpu.cfs_period_us")).Trim();
        var ended = await EndedAsync(node, taskId);

        Assert.Equal("25000", quota);
        Assert.Equal("100000", period);
        Assert.StartsWith(CpuGroup(node.Pid).TrimEnd('/') + "/tenzro-", group, StringComparison.Ordinal);
        Assert.Equal("completed", ended["state"]!.GetValue<string>());
        Assert.Equal(CpuGroup(node.Pid), CpuGroup(worker)); // the idle worker is back in the node's group
    }

    /// <summary>
    /// A worker at rest holds memory outside every task's reservation: the ledger lends it to no task while the worker
    /// lives (<c>heldByNode</c> in /api/resources), and gets it back when the worker ends.
    /// </summary>
    [Fact]
    public async Task WorkerAtRest_IsHeldInTheLedger_UntilItEnds()
    {
        await using var node = await NodeProcess.StartAsync();
        var bomb = await UploadAsync(node, Bomb);

        var ran = await RunAsync(node, TaskBody(bomb, 64, "[1000]"));
        var resources = (await node.Client.GetFromJsonAsync<JsonObject>("/api/resources/status"))!;
        var heldMB = resources["heldByNode"]!["workers:onnx"]!["memoryMB"]!.GetValue<long>();
        var worker = Assert.Single(Workers(node.Pid));
        using (var kill = System.Diagnostics.Process.Start("kill", ["-9", worker.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill!.WaitForExitAsync();
        }

        // The pool notices a dead idle worker at its next round (every 10 s).
        JsonObject? after = null;
        var deadline = DateTime.UtcNow + Limit;
        while (DateTime.UtcNow < deadline)
        {
            after = (await node.Client.GetFromJsonAsync<JsonObject>("/api/resources/status"))!;
            if (after["heldByNode"]!.AsObject().Count == 0)
            {
                break;
            }

            await Task.Delay(200);
        }

        Assert.Equal("completed", ran["state"]!.GetValue<string>());
        Assert.InRange(heldMB, 10, 1024);
        Assert.Equal(
            resources["allowed"]!["memoryMB"]!.GetValue<long>() - resources["reserved"]!["memoryMB"]!.GetValue<long>() - heldMB,
            resources["free"]!["memoryMB"]!.GetValue<long>());
        Assert.Empty(after!["heldByNode"]!.AsObject());
        Assert.Equal(after["allowed"]!["memoryMB"]!.GetValue<long>() - after["reserved"]!["memoryMB"]!.GetValue<long>(), after["free"]!["memoryMB"]!.GetValue<long>());
    }

    /// <summary>The cgroup v1 cpu group of <paramref name="pid"/> ("" where there is none), as /proc/PID/cgroup names it.</summary>
    private static string CpuGroup(int pid)
    {
        try
        {
            return File.ReadLines($"/proc/{pid}/cgroup").Select(l => l.Split(':', 3))
                .FirstOrDefault(p => p.Length == 3 && p[1].Split(',').Contains("cpu"))?[2] ?? "";
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static string CpuGroupDirectory(int pid) =>
        new[] { "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct" }.Select(m => Path.Join(m, CpuGroup(pid))).First(Directory.Exists);

    /// <summary>ML.NET training runs in a worker too: a data set far over the task's reservation fails alone.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TrainingOverItsReservation_FailsWithMemoryLimit_AndTheNextTrainingWorks(bool withoutMemoryGroups)
    {
        await using var node = await StartAsync(withoutMemoryGroups);
        var rows = Enumerable.Range(0, 100_000).Select(i => (X: i % 17 / 16.0, Y: i * 7 % 13 / 12.0)).ToArray();
        string Train(int memoryMB, int count) =>
            new JsonObject
            {
                ["type"] = "train",
                ["requirements"] = new JsonObject { ["cpu"] = 1, ["memoryMB"] = memoryMB },
                ["data"] = new JsonObject
                {
                    ["model"] = "linear",
                    ["features"] = new JsonArray([.. rows.Take(count).Select(r => (JsonNode)new JsonArray(r.X, r.Y))]),
                    ["labels"] = new JsonArray([.. rows.Take(count).Select(r => (JsonNode)((2 * r.X) - (3 * r.Y) + 1))]),
                    ["hyperparameters"] = new JsonObject { ["epochs"] = 1 },
                },
            }.ToJsonString();

        var over = await RunAsync(node, Train(4, rows.Length));
        var next = await RunAsync(node, Train(256, 1_000));

        Assert.Equal("failed", over["state"]!.GetValue<string>());
        Assert.StartsWith("memory limit", over["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("completed", next["state"]!.GetValue<string>());
        Assert.False(node.HasExited);
    }

    private static async Task<NodeProcess> StartAsync(bool unprivileged)
    {
        if (!unprivileged || Environment.UserName != "root" || !OperatingSystem.IsLinux())
        {
            return await NodeProcess.StartAsync();
        }

        var directory = NodeProcess.NewDirectory();
        File.SetUnixFileMode(directory, (UnixFileMode)0b111_111_111);
        var node = NodeProcess.LaunchUnder(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"], dataDirectory: directory);
        await node.WaitHealthyAsync(Limit);
        return node;
    }

    private static string TaskBody(string model, int memoryMB, string n, double cpu = 1) =>
        "{\"type\":\"inference\",\"requirements\":{\"cpu\":" + cpu.ToString(CultureInfo.InvariantCulture) + ",\"memoryMB\":" + memoryMB.ToString(CultureInfo.InvariantCulture)
        + "},\"data\":{\"model\":\"" + model + "\",\"inputs\":{\"n\":{\"type\":\"int64\",\"shape\":[" + (n.Count(c => c == ',') + 1).ToString(CultureInfo.InvariantCulture)
        + "],\"data\":" + n + "}}}}";

    private static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");

    private static async Task<string> UploadAsync(NodeProcess node, byte[] model)
    {
        using var content = new ByteArrayContent(model);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        var uploaded = await (await node.Client.PutAsync("/api/models", content).WaitAsync(Limit)).Content.ReadFromJsonAsync<JsonObject>();
        return uploaded!["sha256"]!.GetValue<string>();
    }

    private static async Task<JsonObject> RunAsync(NodeProcess node, string task)
    {
        using var body = Json(task);
        var response = await node.Client.PostAsync("/api/tasks/execute?wait=60s", body).WaitAsync(Limit);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    private static async Task<JsonObject> EndedAsync(NodeProcess node, string taskId)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (true)
        {
            var status = (await node.Client.GetFromJsonAsync<JsonObject>($"/api/tasks/{taskId}"))!;
            if (status["state"]!.GetValue<string>() is "completed" or "failed" or "cancelled" || DateTime.UtcNow > deadline)
            {
                return status;
            }

            await Task.Delay(20);
        }
    }

    private static async Task<int> WaitForAsync(Func<int> find, string what)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (DateTime.UtcNow < deadline)
        {
            if (find() is var pid and > 0)
            {
                return pid;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"no {what} within {Limit}");
    }

    /// <summary>The node's worker processes: its children started as <c>tenzro-node worker …</c>.</summary>
    private static IEnumerable<int> Workers(int nodePid)
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            string stat;
            string commandLine;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
                commandLine = File.ReadAllText(Path.Combine(directory, "cmdline"));
            }
            catch (IOException)
            {
                continue;
            }

            var parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
            if (parent == nodePid && commandLine.Contains("\0worker\0", StringComparison.Ordinal))
            {
                yield return pid;
            }
        }
    }

    /// <summary>The highest sum of the node's and its workers' resident sets, sampled until <paramref name="token"/> fires.</summary>
    private static async Task<long> PeakResidentMB(int nodePid, CancellationToken token)
    {
        long peak = 0;
        while (!token.IsCancellationRequested)
        {
            peak = Math.Max(peak, ResidentMB(nodePid) + Workers(nodePid).Sum(ResidentMB));
            await Task.Delay(5, CancellationToken.None);
        }

        return peak;
    }

    private static long ResidentMB(int pid) => NodeProcess.StatusKB(pid, "VmRSS:") / 1024;

    private static long ResidentPeakMB(int pid) => NodeProcess.StatusKB(pid, "VmHWM:") / 1024;
}
