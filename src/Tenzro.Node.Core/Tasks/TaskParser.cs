using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Core.Tasks;

/// <summary>
/// Turns a submitted task object (CONTRACTS.md "Task") into a <see cref="TaskSpec"/>, reporting every
/// field error at once. Wrong JSON types are 400-class errors; bad values are 422-class.
/// </summary>
public static class TaskParser
{
    public const int MaxTaskIdLength = 128;

    /// <summary>
    /// Parses <paramref name="body"/>, adding every field error to <paramref name="errors"/>. Returns null only
    /// when no type could be read; otherwise a spec (with defaults in place of bad fields) that later checks
    /// can add their errors for, so the caller reports all of them at once.
    /// </summary>
    /// <param name="body">The task object.</param>
    /// <param name="maxTimeout">TASK_TIMEOUT: the default and the maximum.</param>
    /// <param name="knownTypes">Task types some runtime executes.</param>
    /// <param name="origin">api or regional.</param>
    /// <param name="errors">Receives the field errors.</param>
    public static TaskSpec? Parse(JsonObject body, TimeSpan maxTimeout, IReadOnlyCollection<string> knownTypes, string origin, ValidationErrors errors)
    {
        string? taskId = null;
        if (body["taskId"] is { } idNode)
        {
            if (idNode.GetValueKind() != JsonValueKind.String)
            {
                errors.AddTypeError("taskId", "must be a string.");
            }
            else
            {
                taskId = idNode.GetValue<string>();
                if (taskId.Length is 0 or > MaxTaskIdLength || !taskId.All(IsIdCharacter))
                {
                    errors.Add("taskId", $"must be 1-{MaxTaskIdLength} characters of letters, digits, '-', '_', '.' or ':'.");
                }
                else if (taskId.All(c => c == '.'))
                {
                    // "." and ".." are path segments: no URL could name the task.
                    errors.Add("taskId", "must not be made of dots only.");
                }
            }
        }

        string? type = null;
        switch (body["type"])
        {
            case null:
                errors.Add("type", $"is required; one of {string.Join(", ", knownTypes.Order(StringComparer.Ordinal))}.");
                break;
            case var node when node.GetValueKind() != JsonValueKind.String:
                errors.AddTypeError("type", "must be a string.");
                break;
            case var node:
                type = node.GetValue<string>();
                if (!knownTypes.Contains(type))
                {
                    errors.Add("type", $"'{type}' is not a task type this node runs; expected one of {string.Join(", ", knownTypes.Order(StringComparer.Ordinal))}.");
                }

                break;
        }

        var priority = TaskPriority.Medium;
        if (body["priority"] is { } priorityNode)
        {
            if (priorityNode.GetValueKind() != JsonValueKind.String)
            {
                errors.AddTypeError("priority", "must be a string: low, medium, high or critical.");
            }
            else if (!TryParsePriority(priorityNode.GetValue<string>(), out priority))
            {
                errors.Add("priority", $"'{priorityNode.GetValue<string>()}' is not a priority; expected low, medium, high or critical.");
            }
        }

        var timeout = maxTimeout;
        if (body["timeout"] is { } timeoutNode)
        {
            if (timeoutNode.GetValueKind() != JsonValueKind.Number)
            {
                errors.AddTypeError("timeout", "must be a number of seconds.");
            }
            else
            {
                var seconds = NumberOf(timeoutNode);
                if (seconds <= 0 || double.IsNaN(seconds))
                {
                    errors.Add("timeout", $"must be more than 0 seconds; got {seconds}.");
                }
                else if (seconds > maxTimeout.TotalSeconds)
                {
                    errors.Add("timeout", $"{seconds} s is above this node's TASK_TIMEOUT of {maxTimeout.TotalSeconds} s.");
                }
                else
                {
                    timeout = Seconds(seconds);
                }
            }
        }

        var requirements = ParseRequirements(body["requirements"], errors);
        var data = ObjectOrEmpty(body, "data", errors);
        var config = ObjectOrEmpty(body, "config", errors);

        if (type is null)
        {
            return null;
        }

        return new TaskSpec
        {
            TaskId = taskId ?? NewTaskId(),
            Type = type,
            Priority = priority,
            Requirements = requirements,
            Data = data,
            Config = config,
            Timeout = timeout,
            Origin = origin,
        };
    }

    public static bool TryParsePriority(string text, out TaskPriority priority)
    {
        switch (text.ToLowerInvariant())
        {
            case "low": priority = TaskPriority.Low; return true;
            case "medium": priority = TaskPriority.Medium; return true;
            case "high": priority = TaskPriority.High; return true;
            case "critical": priority = TaskPriority.Critical; return true;
            default: priority = TaskPriority.Medium; return false;
        }
    }

    /// <summary>A new random task id.</summary>
    public static string NewTaskId() => "t-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    /// <summary>
    /// The hash that decides whether a resubmission with the same taskId is the same task: the canonical
    /// JSON of the normalized fields (type, priority, requirements, data, config, timeout).
    /// </summary>
    public static string ContentHash(TaskSpec task)
    {
        var normalized = new JsonObject
        {
            ["type"] = task.Type,
            ["priority"] = task.Priority.ToWire(),
            ["requirements"] = task.Requirements.ToJson(),
            ["data"] = task.Data.DeepClone(),
            ["config"] = task.Config.DeepClone(),
            ["timeout"] = task.Timeout.TotalSeconds,
        };
        return CanonicalJson.Digest(normalized);
    }

    /// <summary>The stored form of a task, read back by <see cref="FromStored"/>.</summary>
    public static string ToStored(TaskSpec task) => new JsonObject
    {
        ["taskId"] = task.TaskId,
        ["type"] = task.Type,
        ["priority"] = task.Priority.ToWire(),
        ["requirements"] = task.Requirements.ToJson(),
        ["data"] = task.Data.DeepClone(),
        ["config"] = task.Config.DeepClone(),
        ["timeout"] = task.Timeout.TotalSeconds,
        ["origin"] = task.Origin,
        ["requester"] = task.Requester,
        ["owner"] = task.Owner,
    }.ToJsonString();

    public static TaskSpec FromStored(string json)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        var r = node["requirements"]!.AsObject();
        _ = TryParsePriority(node["priority"]!.GetValue<string>(), out var priority);
        return new TaskSpec
        {
            TaskId = node["taskId"]!.GetValue<string>(),
            Type = node["type"]!.GetValue<string>(),
            Priority = priority,
            Requirements = ResourceAmounts.FromJson(r),
            Data = node["data"]!.AsObject().DeepClone().AsObject(),
            Config = node["config"]!.AsObject().DeepClone().AsObject(),
            Timeout = Seconds(node["timeout"]!.GetValue<double>()),
            Origin = node["origin"]?.GetValue<string>() ?? TaskOrigins.Api,
            Requester = node["requester"]?.GetValue<string>() ?? "local",
            Owner = node["owner"]?.GetValue<string>() ?? (node["origin"]?.GetValue<string>() == TaskOrigins.Regional ? TaskOwners.Regional : TaskOwners.AnonymousLoopback),
        };
    }

    private static ResourceAmounts ParseRequirements(JsonNode? node, ValidationErrors errors)
    {
        if (node is null)
        {
            return ResourceAmounts.TaskDefault;
        }

        if (node.GetValueKind() != JsonValueKind.Object)
        {
            errors.AddTypeError("requirements", "must be an object with cpu, memoryMB, storageMB, gpuCount, gpuMemoryMB.");
            return ResourceAmounts.TaskDefault;
        }

        var o = node.AsObject();
        var defaults = ResourceAmounts.TaskDefault;
        var cpu = Number(o, "cpu", defaults.Cpu, 0.01, errors);
        var memory = (long)Number(o, "memoryMB", defaults.MemoryMB, 0, errors);
        var storage = (long)Number(o, "storageMB", defaults.StorageMB, 0, errors);
        var gpuCount = (int)Math.Min(int.MaxValue, Number(o, "gpuCount", defaults.GpuCount, 0, errors));
        var gpuMemory = (long)Number(o, "gpuMemoryMB", defaults.GpuMemoryMB, 0, errors);
        if (o["gpu"] is { } gpu && gpu.GetValueKind() == JsonValueKind.True && gpuCount == 0)
        {
            gpuCount = 1;
        }

        return new ResourceAmounts(cpu, memory, storage, gpuCount, gpuMemory);
    }

    private static double Number(JsonObject o, string name, double fallback, double min, ValidationErrors errors)
    {
        if (o[name] is not { } node)
        {
            return fallback;
        }

        if (node.GetValueKind() != JsonValueKind.Number)
        {
            errors.AddTypeError($"requirements.{name}", "must be a number.");
            return fallback;
        }

        var value = NumberOf(node);
        if (value < min || double.IsNaN(value))
        {
            errors.Add($"requirements.{name}", $"must be at least {min}; got {value}.");
            return fallback;
        }

        return value;
    }

    private static JsonObject ObjectOrEmpty(JsonObject body, string name, ValidationErrors errors)
    {
        var node = body[name];
        if (node is null)
        {
            return [];
        }

        if (node.GetValueKind() != JsonValueKind.Object)
        {
            errors.AddTypeError(name, "must be an object.");
            return [];
        }

        return node.DeepClone().AsObject();
    }

    /// <summary>
    /// Seconds to the nearest tick. <see cref="TimeSpan.FromSeconds(double)"/> truncates, so a timeout written as its
    /// TotalSeconds and read back could lose a tick and change the task's content hash.
    /// </summary>
    private static TimeSpan Seconds(double seconds) => TimeSpan.FromTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));

    /// <summary>
    /// A JSON number as a double, whether parsed from text or built in memory from another numeric type (the
    /// regional mapper writes <c>memoryMB</c> as a long), which <c>GetValue&lt;double&gt;</c> refuses.
    /// </summary>
    private static double NumberOf(JsonNode node) =>
        node.AsValue().TryGetValue<double>(out var value)
            ? value
            : double.Parse(node.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture);

    private static bool IsIdCharacter(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':';

    /// <summary>UTF-8 size of a node's JSON, for input size limits.</summary>
    public static int JsonSize(JsonNode? node) => node is null ? 4 : Encoding.UTF8.GetByteCount(node.ToJsonString());
}
