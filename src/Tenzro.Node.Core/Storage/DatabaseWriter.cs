using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Tenzro.Node.Core.Storage;

/// <summary>
/// The database's single writer: writes from every component are queued and committed in batches
/// (group commit). Each caller's write completes only after the transaction that holds it has committed
/// with <c>synchronous=FULL</c>, so durability is never weakened, yet concurrent writes share one fsync and
/// never wait on each other for SQLite's write lock.
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

            try
            {
                using var transaction = connection.BeginTransaction();
                foreach (var write in batch)
                {
                    write.Run(connection);
                }

                transaction.Commit();
                foreach (var write in batch)
                {
                    write.Complete();
                }
            }
            catch (Exception e)
            {
                // The whole batch rolled back: fail every caller so none is told it is durable.
                foreach (var write in batch)
                {
                    write.Fail(e);
                }
            }
        }
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
