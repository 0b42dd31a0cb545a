namespace Tenzro.Node.Core.Tasks;

/// <summary>
/// Records of finished tasks kept in memory for status reads (shared between them, so their specs are only read): a final record changes only when its result expires, its
/// tombstone is purged, or it is written again, and each of those drops it here. A record is added only if nothing
/// dropped any since its read began (a generation count), so a read that raced a change never puts back what was before.
/// </summary>
/// <remarks>
/// Thread-safe. Bounded: at most <see cref="MaxRecords"/> records, the oldest added out first, and only records whose stored
/// body and result together take at most <see cref="MaxRecordChars"/> characters, so it holds a few MB at most.
/// </remarks>
internal sealed class FinalRecordCache
{
    public const int MaxRecords = 1024;
    public const int MaxRecordChars = 4 * 1024;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, TaskRecord> _records = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
    private long _generation;

    /// <summary>The generation to pass to <see cref="Add"/> for a read that starts now.</summary>
    public long Generation
    {
        get
        {
            lock (_lock)
            {
                return _generation;
            }
        }
    }

    public bool TryGet(string taskId, out TaskRecord record)
    {
        lock (_lock)
        {
            return _records.TryGetValue(taskId, out record!);
        }
    }

    /// <summary>Keeps <paramref name="record"/> if it is final, small enough, and nothing was dropped since <paramref name="readAt"/>.</summary>
    public void Add(TaskRecord record, long readAt, int storedChars)
    {
        if (!record.State.IsFinal() || storedChars > MaxRecordChars)
        {
            return;
        }

        lock (_lock)
        {
            if (readAt == _generation)
            {
                AddLocked(record);
            }
        }
    }

    /// <summary>
    /// Puts <paramref name="record"/> (just committed) in place of whatever is kept for <paramref name="taskId"/>, and stops
    /// every read begun before from adding what it read; with a null, not final or too large record, only drops.
    /// </summary>
    public void Replace(string taskId, TaskRecord? record, int storedChars)
    {
        lock (_lock)
        {
            _generation++;
            _records.Remove(taskId);
            if (record is not null && record.State.IsFinal() && storedChars <= MaxRecordChars)
            {
                AddLocked(record);
            }
        }
    }

    private void AddLocked(TaskRecord record)
    {
        if (_records.TryAdd(record.TaskId, record))
        {
            // The order also holds ids dropped since they were added; they go with the oldest, so it stays bounded too.
            _order.Enqueue(record.TaskId);
            while ((_records.Count > MaxRecords || _order.Count > 2 * MaxRecords) && _order.TryDequeue(out var oldest))
            {
                _records.Remove(oldest);
            }
        }
    }

    /// <summary>Drops the records of <paramref name="taskIds"/>, and stops every read begun before from adding its record.</summary>
    public void Drop(IEnumerable<string> taskIds)
    {
        lock (_lock)
        {
            _generation++;
            foreach (var id in taskIds)
            {
                _records.Remove(id);
            }
        }
    }

    /// <summary>Drops every record (a purge deletes tombstones by age, not by id).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _generation++;
            _records.Clear();
            _order.Clear();
        }
    }
}
