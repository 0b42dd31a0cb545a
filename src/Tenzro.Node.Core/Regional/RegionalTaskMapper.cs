using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Core.Regional;

/// <summary>
/// Maps a task object received in <c>task_assignment</c> to the local task model (CONTRACTS.md "Task"),
/// which <see cref="TaskParser"/> then parses like any submission. Both the regional form
/// (PROTOCOL.md section 6: <c>requirements.minMemory</c> in GB, <c>data.config</c>, <c>expiry</c>) and the
/// local form (<c>requirements.memoryMB</c>, <c>config</c>, <c>timeout</c>) are accepted; where both give a
/// value, the local field wins.
/// </summary>
/// <remarks>Stateless and thread-safe.</remarks>
public static class RegionalTaskMapper
{
    private const double MegabytesPerGigabyte = 1024;

    /// <summary>
    /// Builds the local task body. Mapping problems (an expired task, a requirement of the wrong JSON type)
    /// are added to <paramref name="errors"/>; the fields the mapper does not own are left for
    /// <see cref="TaskParser"/> to check.
    /// </summary>
    /// <param name="task">The <c>task</c> member of the assignment.</param>
    /// <param name="now">The current time, for <c>expiry</c>.</param>
    /// <param name="maxTimeout">TASK_TIMEOUT: the default, and the cap of any timeout.</param>
    /// <param name="errors">Receives mapping errors.</param>
    /// <summary>
    /// The task types of the regional protocol (its task object's <c>type</c>): the regional node may assign
    /// only these, even where this node runs more (an <c>inference</c> task is an API task only).
    /// </summary>
    public static readonly IReadOnlySet<string> ProtocolTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        "compute", "train", "process", "aggregate", "store", "validate", "verify", "dispute", "report", "update",
    };

    public static JsonObject ToLocal(JsonObject task, DateTimeOffset now, TimeSpan maxTimeout, ValidationErrors errors)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(errors);

        var body = new JsonObject();
        if (task["taskId"] is { } taskId)
        {
            body["taskId"] = taskId.DeepClone();
        }

        if (task["type"] is { } type)
        {
            body["type"] = type.DeepClone();
        }

        var requirements = task["requirements"] as JsonObject;
        if (task["requirements"] is { } requirementsNode && requirements is null)
        {
            errors.AddTypeError("requirements", $"must be an object; got {requirementsNode.GetValueKind()}.");
        }

        // priority ← priority ?? requirements.priority ?? medium
        body["priority"] = (task["priority"] ?? requirements?["priority"])?.DeepClone() ?? "medium";

        // config ← config ?? data.config; input ← data.input (a data value that is not an object is the input).
        var dataObject = task["data"] as JsonObject;
        var config = task["config"] ?? dataObject?["config"];
        if (config is not null)
        {
            body["config"] = config.DeepClone();
        }

        var data = new JsonObject();
        if (dataObject is not null)
        {
            foreach (var (name, value) in dataObject)
            {
                if (name is not ("config" or "resultEndpoint"))
                {
                    data[name] = value?.DeepClone();
                }
            }
        }
        else if (task["data"] is { } scalar)
        {
            data["input"] = scalar.DeepClone();
        }

        body["data"] = data;
        body["requirements"] = MapRequirements(requirements, errors);

        // timeout ← timeout ?? seconds until expiry ?? TASK_TIMEOUT, never above TASK_TIMEOUT.
        if (task["timeout"] is { } timeout)
        {
            body["timeout"] = timeout.GetValueKind() == JsonValueKind.Number
                ? Math.Min(JsonFields.NumberOf(timeout), maxTimeout.TotalSeconds)
                : timeout.DeepClone();
        }
        else if (task["expiry"] is JsonValue expiryValue && expiryValue.TryGetValue<string>(out var expiryText))
        {
            if (!DateTimeOffset.TryParse(expiryText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var expiry))
            {
                errors.Add("expiry", $"'{expiryText}' is not an ISO 8601 time.");
            }
            else
            {
                var seconds = Math.Floor((expiry - now).TotalMilliseconds) / 1000;
                if (seconds <= 0)
                {
                    errors.Add("expiry", $"the task expired at {expiryText}.");
                }
                else
                {
                    body["timeout"] = Math.Min(seconds, maxTimeout.TotalSeconds);
                }
            }
        }

        // Read back from text, so that every value is JSON-backed like a parsed request body (numbers built
        // here as long or int would otherwise not read as double).
        return JsonNode.Parse(body.ToJsonString())!.AsObject();
    }

    private static JsonObject MapRequirements(JsonObject? requirements, ValidationErrors errors)
    {
        var local = new JsonObject();
        if (requirements is null)
        {
            return local;
        }

        foreach (var name in (string[])["cpu", "memoryMB", "storageMB", "gpuCount", "gpuMemoryMB", "gpu"])
        {
            if (requirements[name] is { } value)
            {
                local[name] = value.DeepClone();
            }
        }

        if (!local.ContainsKey("memoryMB") && Gigabytes(requirements, "minMemory", errors) is { } memory)
        {
            local["memoryMB"] = (long)Math.Ceiling(memory * MegabytesPerGigabyte);
        }

        if (!local.ContainsKey("storageMB") && Gigabytes(requirements, "minStorage", errors) is { } storage)
        {
            local["storageMB"] = (long)Math.Ceiling(storage * MegabytesPerGigabyte);
        }

        if (!local.ContainsKey("gpuCount") && new JsonFields(requirements, "requirements", errors).OptionalBool("gpuRequired") == true)
        {
            local["gpuCount"] = 1;
        }

        return local;
    }

    private static double? Gigabytes(JsonObject requirements, string name, ValidationErrors errors)
    {
        if (new JsonFields(requirements, "requirements", errors).OptionalDouble(name, "must be a number of GB.") is not { } value)
        {
            return null;
        }

        if (value < 0 || !double.IsFinite(value))
        {
            errors.Add($"requirements.{name}", $"must be at least 0 GB; got {value}.");
            return null;
        }

        return value;
    }
}
