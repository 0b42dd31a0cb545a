using System.Globalization;
using System.Net.Http.Json;
using System.Numerics;
using System.Text.Json.Nodes;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Playwright;

namespace Tenzro.Node.IntegrationTests;

/// <summary>
/// Split tasks on a group of three real node processes (docs/AGGREGATION.md "Split tasks"), one group shared by the
/// cases (<see cref="GroupOfThree"/>): the combined digest is the whole task's; a member, the leader and the home
/// killed mid-job cost a lease, not the job (the home restarted on its data finishes the job with the digest of the
/// task run whole on one node); no part completes twice except after its lease ended, and then with the same digest;
/// the dashboard shows a job's parts. Redundancy, which excludes a member, has a group of its own
/// (<see cref="GroupRedundancyProcessTests"/>).
/// </summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class GroupWorkProcessTests(GroupOfThree group) : IClassFixture<GroupOfThree>
{
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(90);

    /// <summary>Sums i*i (wrapping, as i64) over [start, end).</summary>
    private const string SquaresWat = """
        (module (func (export "squares") (param $start i64) (param $end i64) (result i64) (local $sum i64)
          (block $done (loop $next
            (br_if $done (i64.ge_s (local.get $start) (local.get $end)))
            (local.set $sum (i64.add (local.get $sum) (i64.mul (local.get $start) (local.get $start))))
            (local.set $start (i64.add (local.get $start) (i64.const 1)))
            (br $next)))
          (local.get $sum)))
        """;

    /// <summary>
    /// Returns its range's start; a part whose range starts above 0 spins until it is cancelled, so that a split job
    /// over [0, 2) stays running with part 0 done and part 1 running, whatever the machine's speed.
    /// </summary>
    private const string HalfDoneWat = """
        (module (func (export "first") (param $start i64) (param $end i64) (result i64)
          (if (i64.gt_s (local.get $start) (i64.const 0)) (then (loop $spin (br $spin))))
          (local.get $start)))
        """;

    [Fact]
    public async Task SplitJobs_SurviveAKilledMember_AKilledLeader_AndAKilledHome_WithTheWholeDigest()
    {
        var ids = group.Ids;
        var leaderId = await group.WaitForGroupAsync();
        await group.WaitForNoJobsAsync();

        // The task of the home-restart case below, run whole as one task on one node (while the first job runs): the same
        // function over the same range with no parts asked for (as a part carries its range), so nothing splits it.
        var home = group.IndexOf(ids.First(id => id != leaderId));
        var wholeOn = home;
        var wholeId = await SubmitAsync(group[wholeOn], Squares(HomeRange.Start, HomeRange.End, parts: null));

        // A member (not the leader, not the home) killed while it runs a part: the part goes elsewhere after the lease.
        var victim = group.IndexOf(ids.First(id => id != leaderId && id != ids[home]));
        var (parentId, expected) = await SubmitSquaresAsync(group[home], 0, 1_200_000_000);
        await WaitForAsync(() => PartRunningOnAsync(group[home], parentId, ids[victim]), JobTimeout, "no part of the job ran on the member to kill");
        await group[victim].SignalAsync(9);
        Assert.True(await group[victim].WaitForExitAsync(TimeSpan.FromSeconds(10)));
        var status = await WaitCompletedAsync(group[home], parentId);
        Assert.Equal(expected, await DigestAsync(group[home], parentId));
        var parts = status["parts"]!.AsArray();
        Assert.Equal(6, parts.Count);
        Assert.Contains(parts, p => p!["attempts"]!.GetValue<int>() >= 2);
        Assert.True(parts.Select(p => p!["member"]!.GetValue<string>()).Distinct().Count() >= 2);
        Assert.All(parts, p => Assert.NotEqual(ids[victim], p!["member"]!.GetValue<string>()));

        await group.RestartAsync(victim);
        await group.WaitForGroupAsync();
        await AssertNoPartCompletedTwiceAsync(group.Nodes, parentId, parts);

        // The leader killed mid-job: the new leader goes on from the replicated job.
        leaderId = await group.WaitForGroupAsync();
        home = group.IndexOf(ids.First(id => id != leaderId));
        var leader = group.IndexOf(leaderId);
        (parentId, expected) = await SubmitSquaresAsync(group[home], 5_000, 1_200_005_000);
        await WaitForAsync(() => PartRunningOnAsync(group[home], parentId, null), JobTimeout, "no part of the second job ran");
        await group[leader].SignalAsync(9);
        Assert.True(await group[leader].WaitForExitAsync(TimeSpan.FromSeconds(10)));
        var killedLeader = leaderId;
        await WaitForAsync(
            async () => (await group[home].Client.GetFromJsonAsync<JsonObject>("/api/aggregation"))!["leaderId"]?.GetValue<string>() is { } l && l != killedLeader ? l : null,
            GroupOfThree.FormTimeout,
            "no new leader was elected");

        // The old leader starts again while the new one finishes the job.
        var restarting = group.RestartAsync(leader);
        await WaitCompletedAsync(group[home], parentId);
        Assert.Equal(expected, await DigestAsync(group[home], parentId));
        await restarting;
        leaderId = await group.WaitForGroupAsync();

        // The home killed mid-job and restarted on its data: it finds its job in the group log, and the parent ends
        // with the digest of the same task run whole on one node.
        var whole = await WaitForAsync(
            async () => await group[wholeOn].Client.GetFromJsonAsync<JsonObject>($"/api/tasks/{wholeId}") is { } s && s["state"]!.GetValue<string>() == "completed" ? s : null,
            JobTimeout,
            "the whole task did not complete");
        Assert.Null(whole["split"]);
        var wholeDigest = await DigestAsync(group[wholeOn], wholeId);
        Assert.Equal(SquaresDigest(HomeRange.Start, HomeRange.End), wholeDigest);
        home = group.IndexOf(ids.First(id => id != leaderId));
        parentId = await SubmitAsync(group[home], Squares(HomeRange.Start, HomeRange.End, parts: 6));
        await WaitForAsync(() => PartRunningOnAsync(group[home], parentId, null), JobTimeout, "no part of the third job ran");
        await group[home].SignalAsync(9);
        Assert.True(await group[home].WaitForExitAsync(TimeSpan.FromSeconds(10)));
        await group.RestartAsync(home);
        status = await WaitCompletedAsync(group[home], parentId);
        Assert.Equal(wholeDigest, await DigestAsync(group[home], parentId));
        Assert.Equal(6, status["split"]!["parts"]!.GetValue<int>());
        Assert.Equal(6, status["parts"]!.AsArray().Count);
        Assert.All(status["parts"]!.AsArray(), p => Assert.Equal("completed", p!["state"]!.GetValue<string>()));

        // The restarted home combined the parts itself (rather than run the whole task again) and so told the leader it
        // is done: the job leaves the group.
        await WaitForAsync(
            async () => (await group[home].Client.GetFromJsonAsync<JsonObject>("/api/aggregation"))!["jobs"]!.AsArray().Count == 0 ? new object() : null,
            TimeSpan.FromSeconds(20),
            $"the job stayed in the group after the restarted home completed it:\n{GroupOfThree.Tail(group[home])}");
        await group.WaitForGroupAsync();
    }

    /// <summary>A split inference batch too big for any one member: accepted by the group, parts on several members, which fetch the model from the home; and one federated round of a train task.</summary>
    [Fact]
    public async Task SplitInferenceAndTrain_RunAcrossTheMembers()
    {
        var leaderId = await group.WaitForGroupAsync();
        await group.WaitForNoJobsAsync();
        var home = group[group.IndexOf(group.Ids.First(id => id != leaderId))];

        using var model = new ByteArrayContent(await File.ReadAllBytesAsync(Path.Combine(NodeProcess.RepositoryRoot(), "tests", "models", "mlp.onnx")));
        model.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        using var uploaded = await home.Client.PutAsync("/api/models", model);
        var sha = (await uploaded.Content.ReadFromJsonAsync<JsonObject>())!["sha256"]!.GetValue<string>();
        var batch = new JsonArray([.. Enumerable.Range(0, 6).Select(i => (JsonNode)new JsonObject
        {
            ["x"] = new JsonObject { ["type"] = "float32", ["shape"] = new JsonArray(1, 4), ["data"] = new JsonArray(i, 1, -1, 0.5) },
        })]);
        var task = new JsonObject
        {
            ["type"] = "inference",
            ["requirements"] = new JsonObject { ["cpu"] = 1, ["memoryMB"] = 100_000_000 },
            ["data"] = new JsonObject { ["model"] = sha, ["batch"] = batch },
            ["config"] = new JsonObject { ["split"] = new JsonObject { ["parts"] = 3, ["partRequirements"] = new JsonObject { ["cpu"] = 1, ["memoryMB"] = 64 } } },
        };

        var parentId = await SubmitAsync(home, task);
        var status = await WaitCompletedAsync(home, parentId);

        Assert.True(status["parts"]!.AsArray().Select(p => p!["member"]!.GetValue<string>()).Distinct().Count() >= 2, status["parts"]!.ToJsonString() + string.Join("\n=====\n", group.Nodes.Select(GroupOfThree.Tail)));
        var result = (await home.Client.GetFromJsonAsync<JsonObject>($"/api/tasks/{parentId}/result"))!;
        Assert.Equal(6, result["result"]!["outputs"]!.AsArray().Count);

        var train = new JsonObject
        {
            ["type"] = "train",
            ["data"] = new JsonObject
            {
                ["model"] = "linear",
                ["features"] = new JsonArray([.. Enumerable.Range(0, 30).Select(i => (JsonNode)new JsonArray(i / 10.0, (i % 7) / 7.0))]),
                ["labels"] = new JsonArray([.. Enumerable.Range(0, 30).Select(i => (JsonNode)((i / 5.0) - ((i % 7) / 7.0)))]),
            },
            ["config"] = new JsonObject { ["split"] = new JsonObject { ["parts"] = 3 } },
        };
        var trainId = await SubmitAsync(home, train);
        await WaitCompletedAsync(home, trainId);
        var round = (await home.Client.GetFromJsonAsync<JsonObject>($"/api/tasks/{trainId}/result"))!["result"]!;
        Assert.Equal(30, round["sampleCount"]!.GetValue<double>());
        Assert.Equal(3, round["federated"]!["parts"]!.GetValue<int>());
    }

    /// <summary>The dashboard of the home shows a running job's parts: one done (member, attempts, duration), one running.</summary>
    [Fact]
    [Trait("Suite", "dashboard")]
    public async Task Dashboard_GroupOfThree_ShowsASplitJobsParts()
    {
        Assert.True(File.Exists(DashboardTests.ChromiumPath), $"{DashboardTests.ChromiumPath} is missing: install Debian's chromium package (apt-get install chromium), as .ci/run does.");
        var leaderId = await group.WaitForGroupAsync();
        await group.WaitForNoJobsAsync();
        var shortIds = group.Ids.Select(id => id[..16]).ToList();
        var home = group[group.IndexOf(group.Ids.First(id => id != leaderId))];

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await DashboardTests.LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);
        await page.GotoAsync(home.BaseAddress.ToString(), new PageGotoOptions { Timeout = 30_000 });
        var taskId = await SubmitAsync(home, new JsonObject
        {
            ["type"] = "compute",
            ["timeout"] = 300,
            ["data"] = new JsonObject { ["wat"] = HalfDoneWat, ["entry"] = "first" },
            ["config"] = new JsonObject { ["fuel"] = 1_000_000_000_000_000L, ["split"] = new JsonObject { ["parts"] = 2, ["range"] = new JsonArray(0, 2), ["combine"] = "sum" } },
        });

        try
        {
            var job = page.Locator($"#jobs .job[data-job='{taskId}']");
            var done = job.Locator($"tr[data-part='{taskId}.0']");
            var running = job.Locator($"tr[data-part='{taskId}.1']");
            await done.Locator(".state", new LocatorLocatorOptions { HasText = "completed" }).WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });
            await running.Locator(".state", new LocatorLocatorOptions { HasText = "running" }).WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });
            var doneCells = await done.Locator("td").AllTextContentsAsync();
            var runningCells = await running.Locator("td").AllTextContentsAsync();
            var heading = await job.Locator("p").TextContentAsync();

            // part, member (short id), state, attempts, duration
            Assert.Equal(".0", doneCells[0]);
            Assert.Contains(doneCells[1], shortIds);
            Assert.Equal("1", doneCells[3]);
            Assert.Matches(@"^\d+\.\d s$", doneCells[4]);
            Assert.Equal(".1", runningCells[0]);
            Assert.Contains(runningCells[1], shortIds);
            Assert.Equal("", runningCells[4]);
            Assert.Contains("1 of 2 parts done", heading);
            Assert.Empty(errors);
        }
        finally
        {
            // The spinning part is cancelled with its parent, and the job leaves the group for the next case.
            await home.Client.DeleteAsync($"/api/tasks/{taskId}");
            await group.WaitForNoJobsAsync();
        }
    }

    private static readonly (long Start, long End) HomeRange = (10_000, 1_200_010_000);

    /// <summary>A compute task over [start, end): split in <paramref name="parts"/> parts, or run whole when null.</summary>
    private static JsonObject Squares(long start, long end, int? parts)
    {
        var split = new JsonObject { ["range"] = new JsonArray(start, end), ["combine"] = "sum" };
        if (parts is { } n)
        {
            split["parts"] = n;
        }

        return new JsonObject
        {
            ["type"] = "compute",
            ["data"] = new JsonObject { ["wat"] = SquaresWat, ["entry"] = "squares" },
            ["config"] = new JsonObject { ["fuel"] = 1_000_000_000_000L, ["split"] = split },
        };
    }

    /// <summary>The digest of the whole result of <see cref="Squares"/> over [start, end), worked out here.</summary>
    private static string SquaresDigest(long start, long end)
    {
        static BigInteger Below(long n) => (BigInteger)(n - 1) * n * ((2 * (BigInteger)n) - 1) / 6;
        var sum = unchecked((long)(ulong)((Below(end) - Below(start)) & ulong.MaxValue));
        var text = sum.ToString(CultureInfo.InvariantCulture);
        var value = Math.Abs(sum) <= 9_007_199_254_740_991 ? text : $"\"{text}\"";
        return Digest($"{{\"returns\":[{value}]}}");
    }

    /// <summary>A split compute task over [start, end) in 6 parts, and the digest of its whole result.</summary>
    private static async Task<(string ParentId, string Digest)> SubmitSquaresAsync(NodeProcess home, long start, long end) =>
        (await SubmitAsync(home, Squares(start, end, parts: 6)), SquaresDigest(start, end));

    /// <summary>The digest of a result given as its canonical JSON (RFC 8785), as the node computes it.</summary>
    internal static string Digest(string canonical) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));

    internal static async Task<string> SubmitAsync(NodeProcess node, JsonObject task)
    {
        using var response = await node.Client.PostAsJsonAsync("/api/tasks/execute", task);
        var body = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.True(response.IsSuccessStatusCode, body?.ToJsonString());
        return body!["taskId"]!.GetValue<string>();
    }

    internal static async Task<JsonObject> WaitCompletedAsync(NodeProcess node, string taskId)
    {
        var status = await WaitForAsync(
            async () => await node.Client.GetFromJsonAsync<JsonObject>($"/api/tasks/{taskId}") is { } s && s["state"]!.GetValue<string>() is not ("queued" or "running") ? s : null,
            JobTimeout,
            $"split task {taskId} did not end:\n{GroupOfThree.Tail(node)}");
        Assert.True(status["state"]!.GetValue<string>() == "completed", status.ToJsonString());
        Assert.True(status["split"]!["applied"]!.GetValue<bool>());
        return status;
    }

    internal static async Task<string> DigestAsync(NodeProcess node, string taskId) =>
        (await node.Client.GetFromJsonAsync<JsonObject>($"/api/tasks/{taskId}/result"))!["digest"]!.GetValue<string>();

    /// <summary>The job's view when a part of it runs on <paramref name="member"/> (any member when null).</summary>
    private static async Task<JsonObject?> PartRunningOnAsync(NodeProcess node, string parentId, string? member)
    {
        var view = await node.Client.GetFromJsonAsync<JsonObject>("/api/aggregation");
        var job = view!["jobs"]!.AsArray().OfType<JsonObject>().FirstOrDefault(j => j["taskId"]!.GetValue<string>() == parentId);
        return job?["partList"]!.AsArray().Any(p => p!["state"]!.GetValue<string>() == "running" && (member is null || p["member"]?.GetValue<string>() == member)) == true ? job : null;
    }

    /// <summary>A part with one attempt completed on exactly one node; a part run again after its lease, with one digest everywhere.</summary>
    private static async Task AssertNoPartCompletedTwiceAsync(NodeProcess[] nodes, string parentId, JsonArray parts)
    {
        foreach (var part in parts.OfType<JsonObject>())
        {
            var partId = part["taskId"]!.GetValue<string>();
            var digests = new List<string>();
            foreach (var node in nodes)
            {
                using var response = await node.Client.GetAsync($"/api/tasks/{partId}/result");
                if (response.IsSuccessStatusCode && await response.Content.ReadFromJsonAsync<JsonObject>() is { } result && result["state"]!.GetValue<string>() == "completed")
                {
                    digests.Add(result["digest"]!.GetValue<string>());
                }
            }

            Assert.NotEmpty(digests);
            Assert.Single(digests.Distinct());
            if (part["attempts"]!.GetValue<int>() == 1)
            {
                Assert.True(digests.Count == 1, $"{partId} ran once but completed on {digests.Count} nodes");
            }
        }
    }

    internal static async Task<T> WaitForAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, string what)
        where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await probe() is { } found)
            {
                return found;
            }

            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(100);
        }
    }
}
