namespace Tenzro.Node.Core.Tasks;

/// <summary>
/// The <c>errorKind</c> of a task's status (CONTRACTS "Reliability codes"): which family its error belongs to, and so
/// what to do about it. <c>task</c>: the task itself failed, timed out or was cancelled; fix the task, or resubmit.
/// <c>node</c>: the node failed it (an internal error, or it died while running it MAX_TASK_ATTEMPTS times); resubmit,
/// and report it if it repeats. <c>resource</c>: the machine ran short (disk, memory) where waiting did not help;
/// resubmit once the node is healthy. <c>network</c>: a peer or the regional node did not answer; resubmit later.
/// </summary>
public static class TaskErrorKinds
{
    public const string Task = "task";
    public const string Node = "node";
    public const string Resource = "resource";
    public const string Network = "network";

    /// <summary>The engine's prefix of an error from a runtime that threw something other than a task failure.</summary>
    public const string InternalErrorPrefix = "internal error: ";

    /// <summary>The engine's prefix of the error of a task the node died under MAX_TASK_ATTEMPTS times.</summary>
    public const string InterruptedPrefix = "interrupted ";

    private static readonly string[] ResourceSigns = ["No space left on device", "disk is full", "OutOfMemory", "out of memory"];

    private static readonly string[] NetworkSigns = ["connection refused", "Connection refused", "network is unreachable", "No route to host", "timed out connecting"];

    /// <summary>The kind of <paramref name="error"/>, or null when there is none.</summary>
    public static string? Of(string? error)
    {
        if (error is null)
        {
            return null;
        }

        if (error.StartsWith(ResourceError.Prefix, StringComparison.Ordinal))
        {
            return Resource;
        }

        if (error.StartsWith(NetworkError.Prefix, StringComparison.Ordinal))
        {
            return Network;
        }

        // Errors stored before the families had prefixes, and runtimes' own messages, are known by their words.
        if (ResourceSigns.Any(sign => error.Contains(sign, StringComparison.Ordinal)))
        {
            return Resource;
        }

        if (NetworkSigns.Any(sign => error.Contains(sign, StringComparison.Ordinal)))
        {
            return Network;
        }

        return error.StartsWith(InternalErrorPrefix, StringComparison.Ordinal) || error.StartsWith(InterruptedPrefix, StringComparison.Ordinal) ? Node : Task;
    }
}
