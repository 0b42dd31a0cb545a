using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace Tenzro.Node.Core.Aggregation;

/// <summary>A member of a group: its node id and the address of its group log (host and <c>RAFT_PORT</c>).</summary>
public sealed record GroupMember(string Id, string Raft)
{
    /// <summary>The group log address as an endpoint (<c>host:port</c>, IPv6 in brackets).</summary>
    public IPEndPoint EndPoint => IPEndPoint.Parse(Raft);
}

/// <summary>What the group log replicates: the group's id, members and split jobs (metadata only; payloads travel as blobs).</summary>
public sealed record GroupState(string GroupId, IReadOnlyList<GroupMember> Members)
{
    public static readonly GroupState Empty = new(string.Empty, []);

    /// <summary>The split tasks the group is working on (docs/AGGREGATION.md "Split tasks").</summary>
    public IReadOnlyList<SplitJob> Jobs { get; init; } = [];

    public SplitJob? Job(string parentId) => Jobs.FirstOrDefault(j => j.ParentId == parentId);

    public GroupMember? Find(string id) => Members.FirstOrDefault(m => m.Id == id);

    public GroupState With(GroupMember member) =>
        this with { Members = [.. Members.Where(m => m.Id != member.Id).Append(member).OrderBy(m => m.Id, StringComparer.Ordinal)] };

    public GroupState Without(string id) => this with { Members = [.. Members.Where(m => m.Id != id)] };
}

/// <summary>How to start this node's group log.</summary>
public sealed record GroupLogStart
{
    /// <summary>Where the log keeps its write-ahead log, snapshots and membership (under DATA_DIR).</summary>
    public required string Directory { get; init; }

    public required GroupMember Self { get; init; }

    /// <summary>The address the log listens on (P2P_HOST); <see cref="Self"/> is the one members dial.</summary>
    public required string ListenHost { get; init; }

    /// <summary>The group as this node knows it when it starts (the finalize message, or the saved state).</summary>
    public required GroupState Known { get; init; }

    /// <summary>True for the one member that starts the group (the founder, on formation only).</summary>
    public bool ColdStart { get; init; }

    public required TimeSpan ElectionTimeout { get; init; }

    /// <summary>The identity-bound certificate of the peer links, presented on both sides of every log connection.</summary>
    public required X509Certificate2 Certificate { get; init; }

    /// <summary>The node id a presented certificate proves, or null when it proves none.</summary>
    public required Func<X509Certificate?, string?> ProvenId { get; init; }
}

/// <summary>
/// The group log (membership, leader and group state) of one group this node is in. The implementation runs Raft
/// (DotNext.Net.Cluster) in its own project; Core and the API see only this.
/// </summary>
/// <remarks>Implementations are thread-safe. Lifecycle: <see cref="StartAsync"/> once, then <see cref="DisposeAsync"/>.</remarks>
public interface IGroupLog : IAsyncDisposable
{
    /// <summary>The TCP port the log listens on (RAFT_PORT, or the one picked for 0).</summary>
    int Port { get; }

    bool IsLeader { get; }

    /// <summary>The node id of the current leader; null while there is none.</summary>
    string? LeaderId { get; }

    /// <summary>The replicated group state as applied on this node.</summary>
    GroupState State { get; }

    /// <summary>Raised (on the log's own thread) with each committed group state as it is applied on this node.</summary>
    event Action<GroupState>? Changed;

    /// <summary>Whether <paramref name="id"/> is admitted: only admitted nodes may open log connections.</summary>
    bool Admits(string id);

    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Leader only: replicates <paramref name="state"/> as the group state (the founder writes the finalized group first).</summary>
    /// <exception cref="InvalidOperationException">This node is not the leader, or the entry was not committed.</exception>
    Task PublishAsync(GroupState state, CancellationToken cancellationToken);

    /// <summary>Leader only: admits <paramref name="member"/>, adds it to the Raft membership, then replicates the new state.</summary>
    /// <exception cref="InvalidOperationException">This node is not the leader, or the change failed.</exception>
    Task AddMemberAsync(GroupMember member, CancellationToken cancellationToken);

    /// <summary>Leader only: removes <paramref name="id"/> from the membership and the state (a removed member is not told).</summary>
    Task RemoveMemberAsync(string id, CancellationToken cancellationToken);

    /// <summary>Whether this node stands aside: it votes and follows, but is never elected (<see cref="StandAsideAsync"/>).</summary>
    bool StandingAside { get; }

    /// <summary>
    /// Stops standing for election: a leader gives up leadership, and another member is elected. Unlike a Raft resign,
    /// which the same member may win again (a resigned member keeps its election timeout, so the order in which the
    /// members time out repeats), a member that stands aside is never elected until <see cref="StandAgainAsync"/>.
    /// </summary>
    /// <returns>Whether this node was standing and now stands aside.</returns>
    Task<bool> StandAsideAsync(CancellationToken cancellationToken);

    /// <summary>Stands for election again after <see cref="StandAsideAsync"/>; false when this node was not aside.</summary>
    Task<bool> StandAgainAsync(CancellationToken cancellationToken);
}

/// <summary>Makes group logs (registered by the host; one log per group the node joins).</summary>
public interface IGroupLogFactory
{
    IGroupLog Create(GroupLogStart start);
}

/// <summary>
/// The port of this node's group log as the node record announces it: RAFT_PORT, or with RAFT_PORT=0 the free port
/// picked once (and kept with a saved group). 0 until the aggregation service has chosen it.
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed class GroupLogPort
{
    private volatile int _port;
    private volatile int _bound;

    public int Port
    {
        get => _port;
        set => _port = value;
    }

    /// <summary>The port the running group log listens on; 0 while this node is in no group (RAFT_PORT is bound only then).</summary>
    public int Bound
    {
        get => _bound;
        set => _bound = value;
    }
}
