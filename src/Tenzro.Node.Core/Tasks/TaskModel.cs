using System.Text.Json.Nodes;

namespace Tenzro.Node.Core.Tasks;

/// <summary>Task priorities, highest value first out of the queue.</summary>
public enum TaskPriority
{
    Low = 0,
    Medium = 1,
    High = 2,
    Critical = 3,
}

/// <summary>Task lifecycle: pending → queued → running → completed | failed | cancelled | timed_out.</summary>
public enum TaskState
{
    Pending,
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
    TimedOut,
}

public static class TaskStates
{
    public static string ToWire(this TaskState state) => state switch
    {
        TaskState.Pending => "pending",
        TaskState.Queued => "queued",
        TaskState.Running => "running",
        TaskState.Completed => "completed",
        TaskState.Failed => "failed",
        TaskState.Cancelled => "cancelled",
        TaskState.TimedOut => "timed_out",
        _ => throw new ArgumentOutOfRangeException(nameof(state)),
    };

    public static bool TryParse(string text, out TaskState state)
    {
        foreach (var candidate in Enum.GetValues<TaskState>())
        {
            if (candidate.ToWire() == text)
            {
                state = candidate;
                return true;
            }
        }

        state = default;
        return false;
    }

    public static bool IsFinal(this TaskState state) =>
        state is TaskState.Completed or TaskState.Failed or TaskState.Cancelled or TaskState.TimedOut;

    public static string ToWire(this TaskPriority priority) => priority.ToString().ToLowerInvariant();
}

/// <summary>Where a task came from.</summary>
public static class TaskOrigins
{
    public const string Api = "api";
    public const string Regional = "regional";

    /// <summary>A part of a split task, submitted by the group work of its member (CONTRACTS "Split tasks").</summary>
    public const string Group = "group";
}

/// <summary>Who owns a task (CONTRACTS.md "Access control"): the id of the API key that submitted it, or one of these.</summary>
public static class TaskOwners
{
    /// <summary>A keyless request from loopback.</summary>
    public const string AnonymousLoopback = "anonymous-loopback";

    /// <summary>The admin token of DATA_DIR/admin.token.</summary>
    public const string AdminToken = "admin-token";

    public const string Regional = "regional";

    public const string Group = "group";

    /// <summary>
    /// Whether a task of <paramref name="reader"/> (an aggregate or validate task) may read a task of
    /// <paramref name="owner"/> by id: its own tasks; keyless loopback also the regional node's and the group's;
    /// the admin token every task.
    /// </summary>
    public static bool MayRead(string reader, string owner) =>
        reader == AdminToken || reader == owner || (reader == AnonymousLoopback && owner is Regional or Group);
}

/// <summary>A validated task, as accepted into the queue. Immutable.</summary>
public sealed record TaskSpec
{
    public required string TaskId { get; init; }
    public required string Type { get; init; }
    public TaskPriority Priority { get; init; } = TaskPriority.Medium;
    /// <summary>What the task asks the resource ledger for (CONTRACTS.md "Task").</summary>
    public Resources.ResourceAmounts Requirements { get; init; } = Resources.ResourceAmounts.TaskDefault;
    public JsonObject Data { get; init; } = [];
    public JsonObject Config { get; init; } = [];
    public required TimeSpan Timeout { get; init; }
    public string Origin { get; init; } = TaskOrigins.Api;

    /// <summary>The node chose the task id (the submitter gave none), so no task of this id can be stored yet. Not stored.</summary>
    public bool IdFromNode { get; init; }

    /// <summary>Who submitted the task, for quotas: "regional" or the caller's address ("127.0.0.1").</summary>
    public string Requester { get; init; } = "local";

    /// <summary>Who may read the task's result, events and blobs and cancel it besides admin (see <see cref="TaskOwners"/>).</summary>
    public string Owner { get; init; } = TaskOwners.AnonymousLoopback;

    /// <summary>The sandbox memory limit: <c>config.memoryLimitMB</c> if given, else <c>requirements.memoryMB</c>.</summary>
    public long MemoryLimitMB =>
        Config["memoryLimitMB"] is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.Number && Json.JsonFields.NumberOf(v) is var mb && mb > 0 ? (long)mb : Requirements.MemoryMB;
}

/// <summary>Field-level validation errors, as the problem+json <c>errors</c> member.</summary>
public sealed class ValidationErrors
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool IsEmpty => _errors.Count == 0;

    /// <summary>How many errors were added, so that one parser can tell whether it added any to a shared list.</summary>
    public int Count => _errors.Values.Sum(e => e.Count);

    /// <summary>Set when at least one error is a wrong JSON type (400) rather than a bad value (422).</summary>
    public bool HasTypeErrors { get; private set; }

    public void Add(string field, string message) => Get(field).Add(message);

    public void AddTypeError(string field, string message)
    {
        HasTypeErrors = true;
        Get(field).Add(message);
    }

    public IDictionary<string, string[]> ToDictionary() => _errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal);

    public override string ToString() => string.Join("; ", _errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}"));

    private List<string> Get(string field)
    {
        if (!_errors.TryGetValue(field, out var list))
        {
            list = [];
            _errors[field] = list;
        }

        return list;
    }
}

/// <summary>The byte budgets: bytes of queued payloads and of kept inputs and results, and their limits.</summary>
public sealed record ByteBudgets(long QueuedBytes, long QueuedLimit, long StoredBytes, long StoredLimit);
