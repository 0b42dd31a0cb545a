using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.IntegrationTests;

/// <summary>
/// Three node processes on loopback that form one aggregation group, shared by the cases of a test class. They start
/// one after the other, each with the ones before it as bootstrap entries (so the first two have measured round trips
/// on their link when the third comes up; started together, the three took longer to agree on a group). A case that
/// kills a node restarts it on its data (<see cref="RestartAsync"/>), with all three as bootstrap entries, so the next
/// case finds the group whole again.
/// </summary>
public sealed class GroupOfThree : IAsyncLifetime
{
    public static readonly TimeSpan FormTimeout = TimeSpan.FromSeconds(60);

    private readonly int[] _ports = [.. Enumerable.Range(0, 3).Select(_ => NodeProcess.FreePort())];
    private readonly NodeProcess?[] _nodes = new NodeProcess?[3];

    /// <summary>The members' node ids, in the order of <see cref="Nodes"/>.</summary>
    public string[] Ids { get; } = new string[3];

    public NodeProcess[] Nodes => [.. _nodes.Select(n => n!)];

    public NodeProcess this[int index] => _nodes[index]!;

    public int IndexOf(string id) => Array.IndexOf(Ids, id);

    public async Task InitializeAsync()
    {
        for (var i = 0; i < 3; i++)
        {
            _nodes[i] = await StartAsync(i, null, null);
            Ids[i] = await PeerLinkProcessTests.IdOfAsync(_nodes[i]!);
        }

        await WaitForGroupAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            if (node is not null)
            {
                await node.DisposeAsync();
            }
        }
    }

    /// <summary>Starts node <paramref name="index"/> again on its data and port, after a case killed it.</summary>
    public async Task RestartAsync(int index)
    {
        var old = _nodes[index]!;
        await old.DisposeAsync();
        _nodes[index] = await StartAsync(index, old.DataDirectory, old.Port);
    }

    /// <summary>Waits until every node names one group with one leader and three members all alive; returns the leader's id.</summary>
    public Task<string> WaitForGroupAsync() =>
        Wait.ForAsync(
            async () =>
            {
                var views = new List<JsonObject>();
                foreach (var node in Nodes)
                {
                    views.Add((await node.Client.GetFromJsonAsync<JsonObject>("/api/aggregation"))!);
                }

                var leaders = views.Select(v => v["leaderId"]?.GetValue<string>()).Distinct().ToList();
                var agreed = views.Select(v => v["groupId"]?.GetValue<string>()).Distinct().Count() == 1 && leaders is [{ } _]
                    && views.All(v => v["members"]!.AsArray().Count == 3 && v["members"]!.AsArray().All(m => m!["alive"]!.GetValue<bool>()));
                return agreed ? leaders[0] : null;
            },
            FormTimeout,
            () => "the three nodes did not agree on one group with three live members:\n" + string.Join("\n", Nodes.Select(Tail)));

    /// <summary>Waits until no node lists a running job, so that a case starts on an idle group.</summary>
    public Task WaitForNoJobsAsync() =>
        Wait.ForAsync(
            async () =>
            {
                foreach (var node in Nodes)
                {
                    if ((await node.Client.GetFromJsonAsync<JsonObject>("/api/aggregation"))!["jobs"]!.AsArray().Count > 0)
                    {
                        return null;
                    }
                }

                return new object();
            },
            TimeSpan.FromSeconds(30),
            () => "a job stayed in the group:\n" + string.Join("\n", Nodes.Select(Tail)));

    public static string Tail(NodeProcess node) => node.Output.Length > 3000 ? node.Output[^3000..] : node.Output;

    /// <summary>Starts node <paramref name="index"/> with the nodes known so far (all but itself once they all ran) as bootstrap entries.</summary>
    private Task<NodeProcess> StartAsync(int index, string? dataDirectory, int? port)
    {
        var environment = new Dictionary<string, string>
        {
            ["NODE_ENV"] = "test",
            ["LOCAL_DISCOVERY_PORT"] = _ports[index].ToString(CultureInfo.InvariantCulture),
            ["RECONNECT_INTERVAL"] = "200",
            ["NODE_TIER"] = "aggregator",
            ["AGGREGATION_THRESHOLD"] = "3",
            ["AGGREGATION_TIMEOUT"] = "30000",
            ["AGGREGATION_ELECTION_TIMEOUT"] = "1000",
            ["AGGREGATION_LEASE"] = "2000",
        };
        var known = Enumerable.Range(0, 3).Where(i => i != index && Ids[i] is not null).Select(i => PeerLinkProcessTests.Entry(Ids[i], _ports[i])).ToList();
        if (known.Count > 0)
        {
            environment["BOOTSTRAP_NODES"] = string.Join(',', known);
        }

        return NodeProcess.StartAsync(environment, dataDirectory, port);
    }
}

/// <summary>Polling with a deadline, for the process tests.</summary>
internal static class Wait
{
    public static async Task<T> ForAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, Func<string> what)
        where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await probe() is { } found)
            {
                return found;
            }

            Assert.True(DateTime.UtcNow < deadline, what());
            await Task.Delay(100);
        }
    }
}
