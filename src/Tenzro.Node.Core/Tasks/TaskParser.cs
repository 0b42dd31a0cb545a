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
        var fields = new JsonFields(body, "", errors);
        var taskId = fields.OptionalString("taskId");
        if (taskId is not null)
        {
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

        var type = fields.RequiredString("type", $"is required; one of {string.Join(", ", knownTypes.Order(StringComparer.Ordinal))}.");
        if (type is not null && !knownTypes.Contains(type))
        {
            errors.Add("type", $"'{type}' is not a task type this node runs; expected one of {string.Join(", ", knownTypes.Order(StringComparer.Ordinal))}.");
        }

        var priority = TaskPriority.Medium;
        if (fields.OptionalString("priority", "must be a string: low, medium, high or critical.") is { } priorityText && !TryParsePriority(priorityText, out priority))
        {
            errors.Add("priority", $"'{priorityText}' is not a priority; expected low, medium, high or critical.");
        }

        var timeout = maxTimeout;
        if (fields.OptionalDouble("timeout", "must be a number of seconds.") is { } seconds)
        {
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

        var requirements = ParseRequirements(fields, errors);
        var data = fields.OptionalObject("data")?.DeepClone().AsObject() ?? [];
        var config = fields.OptionalObject("config")?.DeepClone().AsObject() ?? [];

        if (type is null)
        {
            return null;
        }

        return new TaskSpec
        {
            TaskId = taskId ?? NewTaskId(),
            IdFromNode = taskId is null,
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

    private static ResourceAmounts ParseRequirements(JsonFields body, ValidationErrors errors)
    {
        if (body.OptionalObject("requirements", "must be an object with cpu, memoryMB, storageMB, gpuCount, gpuMemoryMB.") is not { } o)
        {
            return ResourceAmounts.TaskDefault;
        }

        var fields = new JsonFields(o, "requirements", errors);
        var defaults = ResourceAmounts.TaskDefault;
        var cpu = Number(fields, "cpu", defaults.Cpu, 0.01, errors);
        var memory = (long)Number(fields, "memoryMB", defaults.MemoryMB, 0, errors);
        var storage = (long)Number(fields, "storageMB", defaults.StorageMB, 0, errors);
        var gpuCount = (int)Math.Min(int.MaxValue, Number(fields, "gpuCount", defaults.GpuCount, 0, errors));
        var gpuMemory = (long)Number(fields, "gpuMemoryMB", defaults.GpuMemoryMB, 0, errors);
        if (o["gpu"] is { } gpu && gpu.GetValueKind() == JsonValueKind.True && gpuCount == 0)
        {
            gpuCount = 1;
        }

        return new ResourceAmounts(cpu, memory, storage, gpuCount, gpuMemory);
    }

    private static double Number(JsonFields requirements, string name, double fallback, double min, ValidationErrors errors)
    {
        if (requirements.OptionalDouble(name) is not { } value)
        {
            return fallback;
        }

        if (value < min || double.IsNaN(value))
        {
            errors.Add(requirements.PathOf(name), $"must be at least {min}; got {value}.");
            return fallback;
        }

        return value;
    }

    /// <summary>
    /// Seconds to the nearest tick. <see cref="TimeSpan.FromSeconds(double)"/> truncates, so a timeout written as its
    /// TotalSeconds and read back could lose a tick and change the task's content hash.
    /// </summary>
    private static TimeSpan Seconds(double seconds) => TimeSpan.FromTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));

    private static bool IsIdCharacter(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':';
}
