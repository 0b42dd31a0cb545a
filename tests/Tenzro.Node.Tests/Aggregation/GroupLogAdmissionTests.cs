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
        using var aId = NodeIdentity.CreateEphemeral();
        using var bId = NodeIdentity.CreateEphemeral();
        using var strangerId = NodeIdentity.CreateEphemeral();
        var a = new GroupMember(aId.NodeId, $"127.0.0.1:{FreePort()}");
        var b = new GroupMember(bId.NodeId, $"127.0.0.1:{FreePort()}");
        var group = new GroupState("g1", [a, b]);
        await using var leader = Log(aId, a, group, coldStart: true);
        await using var follower = Log(bId, b, group, coldStart: false);
        using var timeout = new CancellationTokenSource(Timeouts.Long);

        await leader.StartAsync(timeout.Token);
        await follower.StartAsync(timeout.Token);
        await WaitUntilAsync(() => leader.IsLeader, "the cold-started member did not lead");
        await leader.PublishAsync(group, timeout.Token);
        await leader.AddMemberAsync(b, timeout.Token);
        await WaitUntilAsync(() => follower.LeaderId == aId.NodeId && follower.State.Members.Count == 2, "the admitted member did not follow the leader");

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
        using var aId = NodeIdentity.CreateEphemeral();
        using var bId = NodeIdentity.CreateEphemeral();
        var a = new GroupMember(aId.NodeId, $"127.0.0.1:{FreePort()}");
        var b = new GroupMember(bId.NodeId, $"127.0.0.1:{FreePort()}");
        var group = new GroupState("g2", [a, b]);
        await using var leader = Log(aId, a, group, coldStart: true);
        await using var follower = Log(bId, b, group, coldStart: false);
        using var timeout = new CancellationTokenSource(Timeouts.Long);
        await leader.StartAsync(timeout.Token);
        await follower.StartAsync(timeout.Token);
        await WaitUntilAsync(() => leader.IsLeader, "the cold-started member did not lead");
        await leader.PublishAsync(group, timeout.Token);
        await leader.AddMemberAsync(b, timeout.Token);
        await WaitUntilAsync(() => follower.State.Members.Count == 2, "the admitted member did not follow the leader");

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
    public async Task ResignRightAfterACommit_TheMembersAgreeOnALeaderAgain()
    {
        using var aId = NodeIdentity.CreateEphemeral();
        using var bId = NodeIdentity.CreateEphemeral();
        using var cId = NodeIdentity.CreateEphemeral();
        var a = new GroupMember(aId.NodeId, $"127.0.0.1:{FreePort()}");
        var b = new GroupMember(bId.NodeId, $"127.0.0.1:{FreePort()}");
        var c = new GroupMember(cId.NodeId, $"127.0.0.1:{FreePort()}");
        var group = new GroupState("g3", [a, b, c]);
        await using var leader = Log(aId, a, group, coldStart: true);
        await using var second = Log(bId, b, group, coldStart: false);
        await using var third = Log(cId, c, group, coldStart: false);
        using var timeout = new CancellationTokenSource(Timeouts.Long * 2);
        await leader.StartAsync(timeout.Token);
        await second.StartAsync(timeout.Token);
        await third.StartAsync(timeout.Token);
        await WaitUntilAsync(() => leader.IsLeader, "the cold-started member did not lead");
        await leader.PublishAsync(group, timeout.Token);
        await leader.AddMemberAsync(b, timeout.Token);
        await leader.AddMemberAsync(c, timeout.Token);
        await WaitUntilAsync(() => second.LeaderId == aId.NodeId && third.LeaderId == aId.NodeId, "the members did not follow the leader");

        // A leader outvoted in a job resigns right after the entry that records it (docs/AGGREGATION.md "Exclusion").
        var job = new SplitJob("t-1", bId.NodeId, "compute", "local", 1, [new SplitPart(0, new string('a', 64), [])], [aId.NodeId]);
        await leader.PublishAsync(leader.State with { Jobs = [job] }, timeout.Token);
        Assert.True(await leader.ResignAsync(timeout.Token));

        // It stops leading, and the three agree on one leader again (Raft may elect it again; what must not happen is
        // members following a leader that no longer leads).
        await WaitUntilAsync(
            () => leader.LeaderId is { } next && second.LeaderId == next && third.LeaderId == next && new[] { leader, second, third }.Count(l => l.IsLeader) == 1,
            $"the members did not agree on a leader after it resigned (it follows {leader.LeaderId ?? "none"}, the others {second.LeaderId ?? "none"} and {third.LeaderId ?? "none"})");
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
