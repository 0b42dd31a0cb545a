using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests;

/// <summary>
/// Redundancy 3 on a group of three real node processes of its own (the outvoted member is excluded for ten minutes,
/// so it cannot share the group of <see cref="GroupWorkProcessTests"/>): a member that returns a wrong result is
/// outvoted, marked, excluded and removed from the group (docs/AGGREGATION.md "Exclusion").
/// </summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class GroupRedundancyProcessTests(GroupOfThree group) : IClassFixture<GroupOfThree>
{
    [Fact]
    public async Task Redundancy3_OutvotesAndMarksAMemberWithAWrongResult()
    {
        var ids = group.Ids;
        var leaderId = await group.WaitForGroupAsync();
        await group.WaitForNoJobsAsync();

        // One member returns a wrong result (the test-only fault switch): the majority wins.
        var home = group.IndexOf(ids.First(id => id != leaderId));
        var liar = group.IndexOf(ids.First(id => id != ids[home]));
        var faults = Directory.CreateDirectory(Path.Combine(group[liar].DataDirectory, "data", "faults")).FullName;
        var fault = Path.Combine(faults, "wrong-result");
        await File.WriteAllTextAsync(fault, "on");
        try
        {
            var input = Enumerable.Range(1, 30_000).ToArray();
            var process = new JsonObject
            {
                ["type"] = "process",
                ["data"] = new JsonObject { ["input"] = new JsonArray([.. input.Select(i => (JsonNode)i)]), ["pipeline"] = JsonNode.Parse("""[{"op":"map","expr":"x * 3 % 1000"},{"op":"sum"}]""") },
                ["config"] = new JsonObject { ["split"] = new JsonObject { ["parts"] = 3 }, ["redundancy"] = 3 },
            };
            var parentId = await GroupWorkProcessTests.SubmitAsync(group[home], process);
            var status = await GroupWorkProcessTests.WaitCompletedAsync(group[home], parentId);
            Assert.Equal(GroupWorkProcessTests.Digest($"{{\"output\":{input.Sum(x => (long)x * 3 % 1000)}}}"), await GroupWorkProcessTests.DigestAsync(group[home], parentId));
            Assert.Equal([ids[liar]], status["split"]!["disagreed"]!.AsArray().Select(d => d!.GetValue<string>()));
            Assert.All(status["parts"]!.AsArray(), p => Assert.NotEqual(ids[liar], p!["member"]!.GetValue<string>()));

            // The outvoted member is excluded for the documented time and removed from the group (docs/AGGREGATION.md "Exclusion").
            var honest = group.Nodes.Where(n => n != group[liar]).ToArray();
            foreach (var node in honest)
            {
                var view = await GroupWorkProcessTests.WaitForAsync(
                    async () => (await node.Client.GetFromJsonAsync<JsonObject>("/api/aggregation")) is { } v
                        && v["excluded"]!.AsArray().Any(e => e!["id"]!.GetValue<string>() == ids[liar] && e["reason"]!.GetValue<string>() == "outvoted")
                        && v["members"]!.AsArray().All(m => m!["id"]!.GetValue<string>() != ids[liar]) ? v : null,
                    GroupOfThree.FormTimeout,
                    "the outvoted member was not excluded and removed:\n" + GroupOfThree.Tail(node) + "\nthe outvoted member:\n" + GroupOfThree.Tail(group[liar]));
                Assert.Equal(2, view["members"]!.AsArray().Count);
                var candidates = (await node.Client.GetFromJsonAsync<JsonObject>("/api/aggregation/candidates"))!["candidates"]!.AsArray();
                var liarCandidate = candidates.SingleOrDefault(c => c!["id"]!.GetValue<string>() == ids[liar]);
                Assert.Contains("excluded", liarCandidate?["warnings"]?.ToJsonString() ?? "no warnings", StringComparison.Ordinal);
            }

            var (groupExit, groupText) = await Cli.RunAsync("group", "--url", honest[0].BaseAddress.ToString());
            Assert.Equal(0, groupExit);
            Assert.Contains("outvoted", groupText, StringComparison.Ordinal);
            Assert.Contains(ids[liar][..16], groupText, StringComparison.Ordinal);

            await GroupWorkProcessTests.WaitForAsync(
                async () => (await group[liar].Client.GetFromJsonAsync<JsonObject>("/api/aggregation")) is { } v && v["state"]!.GetValue<string>() == "none" ? v : null,
                GroupOfThree.FormTimeout,
                "the outvoted member did not leave its group:\n" + GroupOfThree.Tail(group[liar]));
        }
        finally
        {
            File.Delete(fault);
        }
    }
}
