using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Tenzro.Node.Core.Storage;

/// <summary>
/// The database's single writer: writes from every component are queued and committed in batches
/// (group commit). Each caller's write completes only after the transaction that holds it has committed
/// with <c>synchronous=FULL</c>, so durability is never weakened, yet concurrent writes share one fsync and
/// never wait on each other for SQLite's write lock. When a batch fails, its writes are committed again one by
/// one, so a write that fails by itself (a constraint, a trigger) fails alone and the others still commit.
/// </summary>
/// <remarks>
/// Thread-safe. The queue is unbounded on purpose: callers are bounded upstream (HTTP concurrency,
/// MAX_QUEUED_TASKS), and dropping or refusing a write here would lose acknowledged work. A write's
/// delegate runs on the writer's thread and must not block on anything but SQLite.
/// </remarks>
public sealed class DatabaseWriter : IAsyncDisposable
{
    private const int MaxBatch = 512;
    private readonly NodeDatabase _database;
    private readonly Channel<PendingWrite> _writes = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;

    internal DatabaseWriter(NodeDatabase database)
    {
        _database = database;
        _loop = Task.Factory.StartNew(WriteLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>Queues <paramref name="work"/>; the task completes with its value once its batch has committed.</summary>
    /// <exception cref="StoreException">The writer has been shut down.</exception>
    public Task<T> WriteAsync<T>(Func<SqliteConnection, T> work)
    {
        var write = new PendingWrite<T>(work);
        if (!_writes.Writer.TryWrite(write))
        {
            throw new StoreException("The database writer is closed: the node is shutting down.");
        }

        return write.Completion.Task;
    }

    /// <summary>Completes once everything queued before the call has committed.</summary>
    public Task FlushAsync() => WriteAsync(static _ => true);

    public async ValueTask DisposeAsync()
    {
        _writes.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private async Task WriteLoop()
    {
        using var connection = _database.OpenConnection();
        var batch = new List<PendingWrite>(MaxBatch);
        while (await _writes.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _writes.Reader.TryRead(out var write))
            {
                batch.Add(write);
            }

            var error = TryCommit(connection, batch);
            if (error is null)
            {
                continue;
            }

            if (batch.Count == 1 || DiskFull.Is(error))
            {
                // A full disk refuses every write alike: fail them all at once, and their callers' full-disk
                // handling retries them.
                foreach (var write in batch)
                {
                    write.Fail(error);
                }

                continue;
            }

            // The batch rolled back, so nothing in it is durable. One bad write must not fail the others:
            // commit each alone, so that only the writes that fail by themselves are reported as failed.
            foreach (var write in batch)
            {
                if (TryCommit(connection, [write]) is { } own)
                {
                    write.Fail(own);
                }
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="writes"/> in one transaction and, once it has committed, completes each of them.
    /// Returns the error that rolled the transaction back, having completed none of them; null on success.
    /// </summary>
    private static Exception? TryCommit(SqliteConnection connection, IReadOnlyList<PendingWrite> writes)
    {
        try
        {
            using var transaction = connection.BeginTransaction();
            foreach (var write in writes)
            {
                write.Run(connection);
            }

            transaction.Commit();
        }
        catch (Exception e)
        {
            return e;
        }

        foreach (var write in writes)
        {
            write.Complete();
        }

        return null;
    }

    private abstract class PendingWrite
    {
        public abstract void Run(SqliteConnection connection);

        public abstract void Complete();

        public abstract void Fail(Exception e);
    }

    private sealed class PendingWrite<T>(Func<SqliteConnection, T> work) : PendingWrite
    {
        private T _value = default!;

        public TaskCompletionSource<T> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Run(SqliteConnection connection) => _value = work(connection);

        public override void Complete() => Completion.TrySetResult(_value);

        public override void Fail(Exception e) => Completion.TrySetException(e);
    }
}
