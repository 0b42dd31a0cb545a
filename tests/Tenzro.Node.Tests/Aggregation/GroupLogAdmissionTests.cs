using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Security;
using Microsoft.Extensions.Logging.Abstractions;
using Tenzro.Node.Aggregation;
using Tenzro.Node.Core.Aggregation;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Networking.Peers;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Aggregation;

/// <summary>The Raft group log between two members in one process, and a raw DotNext node that was never admitted.</summary>
[Trait("Suite", "peers")]
public sealed class GroupLogAdmissionTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tenzro-group-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task AdmittedMemberJoins_StrangerWithABoundCertificateCannotAppend()
    {
        using var strangerId = NodeIdentity.CreateEphemeral();
        using var timeout = new CancellationTokenSource(Timeouts.Long);
        await using var group = await StartGroupAsync("g1", 2, timeout.Token);
        var (aId, bId, follower) = (group.Ids[0], group.Ids[1], group.Logs[1]);
        var b = group.Members[1];

        using var strangerCertificate = PeerCertificate.Create(strangerId, DateTimeOffset.UtcNow);
        var strangerEndPoint = new IPEndPoint(IPAddress.Loopback, FreePort());
        var tls = new SslOptions();
        tls.ServerOptions.ServerCertificate = strangerCertificate;
        tls.ServerOptions.RemoteCertificateValidationCallback = (_, c, _, _) => PeerCertificate.ProvenKey(c, DateTimeOffset.UtcNow, out _) is not null;
        tls.ClientOptions.ClientCertificates = [strangerCertificate];
        tls.ClientOptions.TargetHost = "tenzro-group";
        tls.ClientOptions.RemoteCertificateValidationCallback = (_, c, _, _) => PeerCertificate.ProvenKey(c, DateTimeOffset.UtcNow, out _) is not null;
        var strangerDirectory = Directory.CreateDirectory(Path.Combine(_directory, "stranger"));
        await using var strangerLog = new DotNext.Net.Cluster.Consensus.Raft.StateMachine.WriteAheadLog(
            new() { Location = Path.Combine(strangerDirectory.FullName, "wal") },
            new GroupStateMachine(strangerDirectory.CreateSubdirectory("snapshots"), _ => { }));
        using var stranger = new RaftCluster(new RaftCluster.TcpConfiguration(strangerEndPoint)
        {
            ConfigurationStorage = new EndPointStorage(Path.Combine(strangerDirectory.FullName, "membership")),
            ColdStart = true,
            LowerElectionTimeout = 150,
            UpperElectionTimeout = 300,
            SslOptions = tls,
            ConnectTimeout = TimeSpan.FromSeconds(1),
            RequestTimeout = TimeSpan.FromSeconds(1),
        })
        { AuditTrail = strangerLog };
        await stranger.StartAsync(timeout.Token);
        await WaitUntilAsync(() => stranger.Leader is { IsRemote: false }, "the stranger did not lead its own one-node cluster");

        using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var added = false;
        try
        {
            added = await stranger.AddMemberAsync(b.EndPoint, attempt.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException or System.Security.Authentication.AuthenticationException or SocketException)
        {
            // Refused at the TLS handshake: the follower's certificate check names no admitted member.
        }

        Assert.False(added);
        Assert.False(follower.Admits(strangerId.NodeId));
        Assert.Equal(aId.NodeId, follower.LeaderId);
        Assert.Equal(new[] { aId.NodeId, bId.NodeId }.Order(StringComparer.Ordinal), follower.State.Members.Select(m => m.Id).Order(StringComparer.Ordinal));
        await stranger.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Changed_GivesTheFollowerEachCommittedStateAsItIsApplied()
    {
        using var timeout = new CancellationTokenSource(Timeouts.Long);
        await using var group = await StartGroupAsync("g2", 2, timeout.Token);
        var (aId, leader, follower) = (group.Ids[0], group.Logs[0], group.Logs[1]);

        var seen = new TaskCompletionSource<GroupState>(TaskCreationOptions.RunContinuationsAsynchronously);
        follower.Changed += state =>
        {
            if (state.Job("t-1") is not null)
            {
                seen.TrySetResult(state);
            }
        };
        var job = new SplitJob("t-1", aId.NodeId, "compute", "local", 1, [new SplitPart(0, new string('a', 64), [])], []);
        await leader.PublishAsync(follower.State with { Jobs = [job] }, timeout.Token);

        var applied = await seen.Task.WaitAsync(timeout.Token);
        Assert.Equal(new string('a', 64), applied.Job("t-1")!.Parts[0].Payload);
        Assert.Equal(aId.NodeId, follower.State.Job("t-1")?.Home);
    }

    [Fact]
    public async Task LeaderStandsAsideRightAfterACommit_AnotherMemberLeadsAndItFollows_ThenItStandsAgain()
    {
        using var timeout = new CancellationTokenSource(Timeouts.Long * 2);
        await using var group = await StartGroupAsync("g3", 3, timeout.Token);
        var (aId, bId) = (group.Ids[0], group.Ids[1]);
        var (leader, second, third) = (group.Logs[0], group.Logs[1], group.Logs[2]);

        // A draining leader stands aside right after an entry, as it may when a job was just recorded.
        var job = new SplitJob("t-1", bId.NodeId, "compute", "local", 1, [new SplitPart(0, new string('a', 64), [])], []);
        await leader.PublishAsync(leader.State with { Jobs = [job] }, timeout.Token);
        Assert.True(await leader.StandAsideAsync(timeout.Token));
        Assert.True(leader.StandingAside);
        Assert.False(await leader.StandAsideAsync(timeout.Token));

        // Another member is elected, and all three follow it: the member aside is never elected again (a Raft resign
        // let the same member win election after election) and still votes, so two of three can elect.
        await WaitUntilAsync(
            () => second.LeaderId is { } next && next != aId.NodeId && third.LeaderId == next && leader.LeaderId == next,
            $"the members did not agree on a new leader (the member aside follows {leader.LeaderId ?? "none"}, the others {second.LeaderId ?? "none"} and {third.LeaderId ?? "none"})");
        Assert.False(leader.IsLeader);

        // The entry committed before the hand-over is applied by every member under the new leader.
        await WaitUntilAsync(() => group.Logs.All(l => l.State.Job("t-1")?.Home == bId.NodeId), "the entry committed before the hand-over was lost");

        // The new leader stands aside too: only the third member may lead now, and it is elected with the votes of two aside.
        var (next, last) = second.IsLeader ? (second, third) : (third, second);
        Assert.True(await next.StandAsideAsync(timeout.Token));
        await WaitUntilAsync(
            () => last.IsLeader && leader.LeaderId == last.LeaderId && next.LeaderId == last.LeaderId,
            $"the one member standing was not elected (it follows {last.LeaderId ?? "none"})");

        Assert.True(await leader.StandAgainAsync(timeout.Token));
        Assert.False(leader.StandingAside);
        Assert.False(await leader.StandAgainAsync(timeout.Token));
    }

    /// <summary>Logs of <paramref name="size"/> members, the first cold-started and leading, the others admitted and following it.</summary>
    private async Task<TestGroup> StartGroupAsync(string groupId, int size, CancellationToken cancellationToken)
    {
        var ids = Enumerable.Range(0, size).Select(_ => NodeIdentity.CreateEphemeral()).ToArray();
        var members = ids.Select(id => new GroupMember(id.NodeId, $"127.0.0.1:{FreePort()}")).ToArray();
        var state = new GroupState(groupId, members);
        var group = new TestGroup(ids, members, [.. ids.Select((id, i) => Log(id, members[i], state, coldStart: i == 0))]);
        try
        {
            foreach (var log in group.Logs)
            {
                await log.StartAsync(cancellationToken);
            }

            var leader = group.Logs[0];
            await WaitUntilAsync(() => leader.IsLeader, "the cold-started member did not lead");
            await leader.PublishAsync(state, cancellationToken);
            foreach (var member in members.Skip(1))
            {
                await leader.AddMemberAsync(member, cancellationToken);
            }

            await WaitUntilAsync(
                () => group.Logs.Skip(1).All(l => l.LeaderId == ids[0].NodeId && l.State.Members.Count == size),
                "the admitted members did not follow the leader");
            return group;
        }
        catch
        {
            await group.DisposeAsync();
            throw;
        }
    }

    private sealed class TestGroup(NodeIdentity[] ids, GroupMember[] members, IGroupLog[] logs) : IAsyncDisposable
    {
        public NodeIdentity[] Ids { get; } = ids;

        public GroupMember[] Members { get; } = members;

        public IGroupLog[] Logs { get; } = logs;

        public async ValueTask DisposeAsync()
        {
            foreach (var log in Logs)
            {
                await log.DisposeAsync();
            }

            foreach (var id in Ids)
            {
                id.Dispose();
            }
        }
    }

    private IGroupLog Log(NodeIdentity identity, GroupMember self, GroupState known, bool coldStart) =>
        GroupLogs.Factory(NullLoggerFactory.Instance).Create(new GroupLogStart
        {
            Directory = Path.Combine(_directory, identity.NodeId[..8]),
            Self = self,
            ListenHost = "127.0.0.1",
            Known = known,
            ColdStart = coldStart,
            ElectionTimeout = TimeSpan.FromSeconds(1),
            Certificate = PeerCertificate.Create(identity, DateTimeOffset.UtcNow),
            ProvenId = c => PeerCertificate.ProvenKey(c, DateTimeOffset.UtcNow, out _) is { } key ? DomainSignature.NodeIdOf(key) : null,
        });

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeouts.Long;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(50);
        }
    }

    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
