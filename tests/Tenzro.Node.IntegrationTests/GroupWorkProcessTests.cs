using System.Globalization;
using System.Net.Http.Json;
using System.Numerics;
using System.Text.Json.Nodes;
using System.Security.Cryptography;
using System.Text;

namespace Tenzro.Node.IntegrationTests;

/// <summary>
/// Split tasks on a group of three real node processes (docs/AGGREGATION.md "Split tasks"): the combined digest is the
/// whole task's; a member killed mid-job and the leader killed mid-job cost a lease, not the job; with redundancy 3 a
/// member that returns a wrong result is outvoted and marked; no part completes twice except after its lease ended,
/// and then with the same digest.
/// </summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class GroupWorkProcessTests
{
    private static readonly TimeSpan FormTimeout = TimeSpan.FromSeconds(60);
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

    [Fact]
    public async Task SplitJobs_CombineToTheWholeDigest_SurviveAKilledMemberAndAKilledLeader_AndOutvoteAWrongMember()
    {
        var ports = Enumerable.Range(0, 3).Select(_ => NodeProcess.FreePort()).ToArray();
        var nodes = new NodeProcess?[3];
        var entries = new string[3];
        try
        {
            for (var i = 0; i < 3; i++)
            {
                nodes[i] = await StartAsync(ports[i], string.Join(',', entries.Take(i)));
                entries[i] = PeerLinkProcessTests.Entry(await PeerLinkProcessTests.IdOfAsync(nodes[i]!), ports[i]);
            }

            var ids = entries.Select(e => e["tenzro://".Length..e.IndexOf('@', StringComparison.Ordinal)]).ToArray();
            var leaderId = await WaitForGroupAsync(Live(nodes), FormTimeout);

            // A split inference batch too big for any one member: accepted by the group, parts on several members,
            // which fetch the model from the home.
            var home = Index(ids, ids.First(id => id != leaderId));
            await AssertSplitInferenceAsync(nodes[home]!, Live(nodes));

            // A member (not the leader, not the home) killed while it runs a part: the part goes elsewhere after the lease.
            var victim = Index(ids, ids.First(id => id != leaderId && id != ids[home]));
            var (parentId, expected) = await SubmitSquaresAsync(nodes[home]!, 0, 1_200_000_000);
            await WaitForAsync(() => PartRunningOnAsync(nodes[home]!, parentId, ids[victim]), JobTimeout, "no part of the job ran on the member to kill");
            await nodes[victim]!.SignalAsync(9);
            Assert.True(await nodes[victim]!.WaitForExitAsync(TimeSpan.FromSeconds(10)));
            var status = await WaitCompletedAsync(nodes[home]!, parentId);
            Assert.Equal(expected, await DigestAsync(nodes[home]!, parentId));
            var parts = status["parts"]!.AsArray();
            Assert.Equal(6, parts.Count);
            Assert.Contains(parts, p => p!["attempts"]!.GetValue<int>() >= 2);
            Assert.True(parts.Select(p => p!["member"]!.GetValue<string>()).Distinct().Count() >= 2);
            Assert.All(parts, p => Assert.NotEqual(ids[victim], p!["member"]!.GetValue<string>()));

            nodes[victim] = await StartAsync(ports[victim], string.Join(',', entries), nodes[victim]!.DataDirectory, nodes[victim]!.Port);
            await WaitForGroupAsync(Live(nodes), FormTimeout);
            await AssertNoPartCompletedTwiceAsync(nodes!, parentId, parts);

            // The leader killed mid-job: the new leader goes on from the replicated job.
            leaderId = await WaitForGroupAsync(Live(nodes), FormTimeout);
            home = Index(ids, ids.First(id => id != leaderId));
            var leader = Index(ids, leaderId);
            (parentId, expected) = await SubmitSquaresAsync(nodes[home]!, 5_000, 1_200_005_000);
            await WaitForAsync(() => PartRunningOnAsync(nodes[home]!, parentId, null), JobTimeout, "no part of the second job ran");
            await nodes[leader]!.SignalAsync(9);
            Assert.True(await nodes[leader]!.WaitForExitAsync(TimeSpan.FromSeconds(10)));
            await WaitCompletedAsync(nodes[home]!, parentId);
            Assert.Equal(expected, await DigestAsync(nodes[home]!, parentId));
            nodes[leader] = await StartAsync(ports[leader], string.Join(',', entries), nodes[leader]!.DataDirectory, nodes[leader]!.Port);
            leaderId = await WaitForGroupAsync(Live(nodes), FormTimeout);

            // Redundancy 3 with one member returning a wrong result (the test-only fault switch): the majority wins.
            home = Index(ids, ids.First(id => id != leaderId));
            var liar = Index(ids, ids.First(id => id != ids[home]));
            var faults = Directory.CreateDirectory(Path.Combine(nodes[liar]!.DataDirectory, "data", "faults")).FullName;
            await File.WriteAllTextAsync(Path.Combine(faults, "wrong-result"), "on");
            var input = Enumerable.Range(1, 30_000).ToArray();
            var process = new JsonObject
            {
                ["type"] = "process",
                ["data"] = new JsonObject { ["input"] = new JsonArray([.. input.Select(i => (JsonNode)i)]), ["pipeline"] = JsonNode.Parse("""[{"op":"map","expr":"x * 3 % 1000"},{"op":"sum"}]""") },
                ["config"] = new JsonObject { ["split"] = new JsonObject { ["parts"] = 3 }, ["redundancy"] = 3 },
            };
            parentId = await SubmitAsync(nodes[home]!, process);
            status = await WaitCompletedAsync(nodes[home]!, parentId);
            Assert.Equal(Digest($"{{\"output\":{input.Sum(x => (long)x * 3 % 1000)}}}"), await DigestAsync(nodes[home]!, parentId));
            Assert.Equal([ids[liar]], status["split"]!["disagreed"]!.AsArray().Select(d => d!.GetValue<string>()));
            Assert.All(status["parts"]!.AsArray(), p => Assert.NotEqual(ids[liar], p!["member"]!.GetValue<string>()));

            // The outvoted member is excluded for the documented time and removed from the group (docs/AGGREGATION.md "Exclusion").
            var honest = Live(nodes).Where(n => n != nodes[liar]).ToArray();
            foreach (var node in honest)
            {
                var view = await WaitForAsync(
                    async () => (await node.Client.GetFromJsonAsync<JsonObject>("/api/aggregation")) is { } v
                        && v["excluded"]!.AsArray().Any(e => e!["id"]!.GetValue<string>() == ids[liar] && e["reason"]!.GetValue<string>() == "outvoted")
                        && v["members"]!.AsArray().All(m => m!["id"]!.GetValue<string>() != ids[liar]) ? v : null,
                    FormTimeout,
                    "the outvoted member was not excluded and removed:\n" + Tail(node));
                Assert.Equal(2, view["members"]!.AsArray().Count);
                var candidates = (await node.Client.GetFromJsonAsync<JsonObject>("/api/aggregation/candidates"))!["candidates"]!.AsArray();
                var liarCandidate = candidates.SingleOrDefault(c => c!["id"]!.GetValue<string>() == ids[liar]);
                Assert.Contains("excluded", liarCandidate?["warnings"]?.ToJsonString() ?? "no warnings", StringComparison.Ordinal);
            }

            var (groupExit, groupText) = await Cli.RunAsync("group", "--url", honest[0].BaseAddress.ToString());
            Assert.Equal(0, groupExit);
            Assert.Contains("outvoted", groupText, StringComparison.Ordinal);
            Assert.Contains(ids[liar][..16], groupText, StringComparison.Ordinal);

            await WaitForAsync(
                async () => (await nodes[liar]!.Client.GetFromJsonAsync<JsonObject>("/api/aggregation")) is { } v && v["state"]!.GetValue<string>() == "none" ? v : null,
                FormTimeout,
                "the outvoted member did not leave its group:\n" + Tail(nodes[liar]!));
        }
        finally
        {
            foreach (var node in nodes)
            {
                if (node is not null)
                {
                    await node.DisposeAsync();
                }
            }
        }
    }

    private static int Index(string[] ids, string id) => Array.IndexOf(ids, id);

    private static async Task AssertSplitInferenceAsync(NodeProcess home, NodeProcess[] all)
    {
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

        Assert.True(status["parts"]!.AsArray().Select(p => p!["member"]!.GetValue<string>()).Distinct().Count() >= 2, status["parts"]!.ToJsonString() + string.Join("\n=====\n", all.Select(Tail)));
        var result = (await home.Client.GetFromJsonAsync<JsonObject>($"/api/tasks/{parentId}/result"))!;
        Assert.Equal(6, result["result"]!["outputs"]!.AsArray().Count);

        // One federated round of a train task across the members.
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

    private static NodeProcess[] Live(NodeProcess?[] nodes) => [.. nodes.Select(n => n!)];

    private static Task<NodeProcess> StartAsync(int p2pPort, string bootstrap, string? dataDirectory = null, int? port = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["NODE_ENV"] = "test",
            ["LOCAL_DISCOVERY_PORT"] = p2pPort.ToString(CultureInfo.InvariantCulture),
            ["RECONNECT_INTERVAL"] = "200",
            ["NODE_TIER"] = "aggregator",
            ["AGGREGATION_THRESHOLD"] = "3",
            ["AGGREGATION_TIMEOUT"] = "30000",
            ["AGGREGATION_ELECTION_TIMEOUT"] = "1000",
            ["AGGREGATION_LEASE"] = "3000",
        };
        if (bootstrap.Length > 0)
        {
            environment["BOOTSTRAP_NODES"] = bootstrap;
        }

        return NodeProcess.StartAsync(environment, dataDirectory, port);
    }

    /// <summary>A split compute task over [start, end) in 6 parts, and the digest of its whole result, worked out here.</summary>
    private static async Task<(string ParentId, string Digest)> SubmitSquaresAsync(NodeProcess home, long start, long end)
    {
        var task = new JsonObject
        {
            ["type"] = "compute",
            ["data"] = new JsonObject { ["wat"] = SquaresWat, ["entry"] = "squares" },
            ["config"] = new JsonObject { ["fuel"] = 1_000_000_000_000L, ["split"] = new JsonObject { ["parts"] = 6, ["range"] = new JsonArray(start, end), ["combine"] = "sum" } },
        };
        static BigInteger Below(long n) => (BigInteger)(n - 1) * n * ((2 * (BigInteger)n) - 1) / 6;
        var sum = unchecked((long)(ulong)((Below(end) - Below(start)) & ulong.MaxValue));
        var text = sum.ToString(CultureInfo.InvariantCulture);
        var value = Math.Abs(sum) <= 9_007_199_254_740_991 ? text : $"\"{text}\"";
        return (await SubmitAsync(home, task), Digest($"{{\"returns\":[{value}]}}"));
    }

    /// <summary>The digest of a result given as its canonical JSON (RFC 8785), as the node computes it.</summary>
    private static string Digest(string canonical) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));

    private static async Task<string> SubmitAsync(NodeProcess node, JsonObject task)
    {
        using var response = await node.Client.PostAsJsonAsync("/api/tasks/execute", task);
        var body = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.True(response.IsSuccessStatusCode, body?.ToJsonString());
        return body!["taskId"]!.GetValue<string>();
    }

    private static async Task<JsonObject> WaitCompletedAsync(NodeProcess node, string taskId)
    {
        var status = await WaitForAsync(
            async () => await node.Client.GetFromJsonAsync<JsonObject>($"/api/tasks/{taskId}") is { } s && s["state"]!.GetValue<string>() is not ("queued" or "running") ? s : null,
            JobTimeout,
            $"split task {taskId} did not end:\n{Tail(node)}");
        Assert.True(status["state"]!.GetValue<string>() == "completed", status.ToJsonString());
        Assert.True(status["split"]!["applied"]!.GetValue<bool>());
        return status;
    }

    private static async Task<string> DigestAsync(NodeProcess node, string taskId) =>
        (await node.Client.GetFromJsonAsync<JsonObject>($"/api/tasks/{taskId}/result"))!["digest"]!.GetValue<string>();

    /// <summary>The job's view when a part of it runs on <paramref name="member"/> (any member when null).</summary>
    private static async Task<JsonObject?> PartRunningOnAsync(NodeProcess node, string parentId, string? member)
    {
        var view = await node.Client.GetFromJsonAsync<JsonObject>("/api/aggregation");
        var job = view!["jobs"]!.AsArray().OfType<JsonObject>().FirstOrDefault(j => j["taskId"]!.GetValue<string>() == parentId);
        return job?["partList"]!.AsArray().Any(p => p!["state"]!.GetValue<string>() == "running" && (member is null || p["member"]?.GetValue<string>() == member)) == true ? job : null;
    }

    /// <summary>A part with one attempt completed on exactly one node; a part run again after its lease, with one digest everywhere.</summary>
    private static async Task AssertNoPartCompletedTwiceAsync(NodeProcess?[] nodes, string parentId, JsonArray parts)
    {
        foreach (var part in parts.OfType<JsonObject>())
        {
            var partId = part["taskId"]!.GetValue<string>();
            var digests = new List<string>();
            foreach (var node in nodes)
            {
                using var response = await node!.Client.GetAsync($"/api/tasks/{partId}/result");
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

    /// <summary>Waits until every node names one group with one leader and three members all alive; returns the leader's id.</summary>
    private static async Task<string> WaitForGroupAsync(NodeProcess[] nodes, TimeSpan timeout)
    {
        var leader = await WaitForAsync(
            async () =>
            {
                var views = new List<JsonObject>();
                foreach (var node in nodes)
                {
                    views.Add((await node.Client.GetFromJsonAsync<JsonObject>("/api/aggregation"))!);
                }

                var leaders = views.Select(v => v["leaderId"]?.GetValue<string>()).Distinct().ToList();
                var agreed = views.Select(v => v["groupId"]?.GetValue<string>()).Distinct().Count() == 1 && leaders is [{ } _]
                    && views.All(v => v["members"]!.AsArray().Count == 3 && v["members"]!.AsArray().All(m => m!["alive"]!.GetValue<bool>()));
                return agreed ? leaders[0] : null;
            },
            timeout,
            "the three nodes did not agree on one group with three live members:\n" + string.Join("\n", nodes.Select(Tail)));
        return leader;
    }

    private static string Tail(NodeProcess node) => node.Output.Length > 3000 ? node.Output[^3000..] : node.Output;

    private static async Task<T> WaitForAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, string what)
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
