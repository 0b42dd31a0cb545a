using System.Buffers;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Tenzro.Node.Core.Aggregation;

namespace Tenzro.Node.Aggregation;

/// <summary>
/// Applies the group log's entries: each is the whole <see cref="GroupState"/> as JSON (<see cref="GroupStateJson"/>). Configuration entries (the
/// membership changes DotNext writes itself) reach the state machine too and are skipped.
/// </summary>
/// <remarks>Apply is called by one thread at a time; <see cref="State"/> may be read from any thread.</remarks>
internal sealed class GroupStateMachine(DirectoryInfo snapshots, Action<GroupState> applied) : SimpleStateMachine(snapshots)
{
    private volatile GroupState _state = GroupState.Empty;

    public GroupState State => _state;

    public static byte[] Encode(GroupState state) => GroupStateJson.Encode(state);

    protected override ValueTask<bool> ApplyAsync(LogEntry entry, CancellationToken token)
    {
        if (entry.IsConfiguration || entry.IsSnapshot || !entry.TryGetPayload(out var payload) || payload.IsEmpty)
        {
            return ValueTask.FromResult(false);
        }

        Set(GroupStateJson.Decode(payload.ToArray()));
        return ValueTask.FromResult(false);
    }

    protected override async ValueTask PersistAsync(IAsyncBinaryWriter writer, CancellationToken token)
    {
        var bytes = Encode(_state);
        await writer.Invoke(bytes.AsMemory(), token);
    }

    protected override async ValueTask RestoreAsync(FileInfo snapshotFile, CancellationToken token)
    {
        var bytes = await File.ReadAllBytesAsync(snapshotFile.FullName, token);
        if (bytes.Length > 0)
        {
            Set(GroupStateJson.Decode(bytes));
        }
    }

    private void Set(GroupState state)
    {
        _state = state;
        applied(state);
    }
}
