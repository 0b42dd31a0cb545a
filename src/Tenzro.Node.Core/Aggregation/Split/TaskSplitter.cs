using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Core.Aggregation.Split;

/// <summary>
/// Splits a task into the bodies of its parts and combines the parts' results (CONTRACTS "Split tasks",
/// docs/AGGREGATION.md "Split tasks"). A <c>process</c> task splits its <c>data.input</c> into contiguous chunks
/// when every op is <c>map</c>, <c>filter</c> or <c>hash</c> (scope <c>each</c>), optionally followed by a final
/// <c>sum</c>, <c>min</c>, <c>max</c> or <c>count</c>; a <c>compute</c> task splits its <c>config.split.range</c>;
/// an <c>inference</c> task splits its <c>data.batch</c> (its input sets). Combining a split of a process or compute
/// task gives the result, and so the digest, of the whole task run on one node (sums exactly for whole numbers); an
/// inference batch gives the whole batch's outputs within floating-point tolerance; a <c>train</c> task runs one
/// federated round: each part trains on a contiguous shard of <c>data.features</c> and <c>data.labels</c> from the
/// same starting parameters, and the parts' parameters are averaged by sample count (<c>federated_average</c>)
/// (docs/AGGREGATION.md).
/// </summary>
/// <remarks>Stateless and thread-safe.</remarks>
public static class TaskSplitter
{
    /// <summary>The task types that split; others asking to be split are refused (422 <c>not splittable</c>).</summary>
    public static readonly string[] SplitTypes = ["process", "compute", "inference", "train"];

    private static readonly string[] Reductions = ["sum", "min", "max", "count"];

    /// <summary>Checks that a task asking to be split can be (422 <c>not splittable</c> otherwise).</summary>
    public static SplitRequest? Validate(TaskSpec task, ValidationErrors errors)
    {
        ArgumentNullException.ThrowIfNull(task);
        var request = SplitRequest.Read(task, errors);
        if (request is null)
        {
            return null;
        }

        switch (task.Type)
        {
            case "process":
                if (ProcessReduction(task, out var why) is null && why is not null)
                {
                    errors.Add("config.split", "not splittable: " + why);
                    return null;
                }

                break;
            case "compute":
                if (SplitRequest.RangeOf(task.Config) is null)
                {
                    errors.Add("config.split.range", "not splittable: a split compute task needs the index range [start, end) its parts divide (CONTRACTS \"Split tasks\").");
                    return null;
                }

                break;
            case "inference":
                if (task.Data["batch"] is not JsonArray { Count: > 0 })
                {
                    errors.Add("config.split", "not splittable: a split inference task gives its input sets as data.batch (an array of input maps), which its parts divide.");
                    return null;
                }

                break;
            case "train":
                if (task.Data["features"] is not JsonArray { Count: > 0 } || task.Data["labels"] is not JsonArray)
                {
                    errors.Add("config.split", "not splittable: a split train task gives its rows inline as data.features and data.labels (not data.dataBlob), which its parts shard.");
                    return null;
                }

                break;
            default:
                errors.Add("config.split", $"not splittable: {task.Type} tasks are not split by this node; leave out config.split to run the task whole.");
                return null;
        }

        return request;
    }

    /// <summary>The bodies of the parts, in order (each without a task id: the caller names them <c>&lt;parentId&gt;.&lt;n&gt;</c>).</summary>
    public static IReadOnlyList<JsonObject> Split(TaskSpec parent, SplitRequest request)
    {
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentNullException.ThrowIfNull(request);
        var config = PartConfig(parent.Config);
        var requirements = request.PartRequirements?.DeepClone() ?? parent.Requirements.ToJson();
        JsonObject Part(JsonObject data, JsonObject partConfig) => new()
        {
            ["type"] = parent.Type,
            ["priority"] = parent.Priority.ToWire(),
            ["timeout"] = parent.Timeout.TotalSeconds,
            ["requirements"] = requirements.DeepClone(),
            ["data"] = data,
            ["config"] = partConfig,
        };

        var parts = new List<JsonObject>();
        if (parent.Type == "process")
        {
            var input = parent.Data["input"] as JsonArray ?? [];
            foreach (var (start, count) in Chunks(input.Count, request.Parts))
            {
                var data = (JsonObject)parent.Data.DeepClone();
                data["input"] = new JsonArray([.. input.Skip(start).Take(count).Select(i => i?.DeepClone())]);
                parts.Add(Part(data, (JsonObject)config.DeepClone()));
            }

            return parts;
        }

        if (parent.Type == "inference")
        {
            var batch = parent.Data["batch"] as JsonArray ?? [];
            foreach (var (start, count) in Chunks(batch.Count, request.Parts))
            {
                var data = (JsonObject)parent.Data.DeepClone();
                data["batch"] = new JsonArray([.. batch.Skip(start).Take(count).Select(i => i?.DeepClone())]);
                parts.Add(Part(data, (JsonObject)config.DeepClone()));
            }

            return parts;
        }

        if (parent.Type == "train")
        {
            var features = parent.Data["features"] as JsonArray ?? [];
            var labels = parent.Data["labels"] as JsonArray ?? [];
            foreach (var (start, count) in Chunks(features.Count, request.Parts))
            {
                var data = (JsonObject)parent.Data.DeepClone();
                data["features"] = new JsonArray([.. features.Skip(start).Take(count).Select(i => i?.DeepClone())]);
                data["labels"] = new JsonArray([.. labels.Skip(start).Take(count).Select(i => i?.DeepClone())]);
                parts.Add(Part(data, (JsonObject)config.DeepClone()));
            }

            return parts;
        }

        var length = request.RangeEnd - request.RangeStart;
        foreach (var (offset, count) in Chunks(length, request.Parts))
        {
            var partConfig = (JsonObject)config.DeepClone();
            partConfig["split"] = new JsonObject
            {
                ["range"] = new JsonArray(request.RangeStart + offset, request.RangeStart + offset + count),
                ["combine"] = request.Combine,
            };
            parts.Add(Part((JsonObject)parent.Data.DeepClone(), partConfig));
        }

        return parts;
    }

    /// <summary>The parent's result from its parts' results, in part order.</summary>
    public static JsonObject Combine(TaskSpec parent, SplitRequest request, IReadOnlyList<JsonObject> results)
    {
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(results);
        if (parent.Type == "process")
        {
            var reduction = ProcessReduction(parent, out _);
            return new JsonObject { ["output"] = reduction is null or "" ? Concat(results.Select(r => r["output"])) : Reduce(reduction, results.Select(r => r["output"]), process: true) };
        }

        if (parent.Type == "inference")
        {
            return new JsonObject { ["outputs"] = Concat(results.Select(r => r["outputs"])) };
        }

        if (parent.Type == "train")
        {
            return FederatedRound(results);
        }

        if (results.Count > 0 && results[0]["returns"] is null)
        {
            // A WASI command: stdout and stderr in part order; the first non-zero exit code.
            return new JsonObject
            {
                ["exitCode"] = results.Select(r => r["exitCode"]?.GetValue<int>() ?? 0).FirstOrDefault(c => c != 0),
                ["stdout"] = string.Concat(results.Select(r => r["stdout"]?.GetValue<string>())),
                ["stderr"] = string.Concat(results.Select(r => r["stderr"]?.GetValue<string>())),
            };
        }

        if (request.Combine == "concat")
        {
            return new JsonObject { ["returns"] = Concat(results.Select(r => r["returns"])) };
        }

        var firsts = results.Select(r => r["returns"] is JsonArray { Count: > 0 } returns ? returns[0] : null);
        return new JsonObject { ["returns"] = new JsonArray(Reduce(request.Combine, firsts, process: false)) };
    }

    /// <summary>
    /// One federated round: the parts' parameters averaged by their sample counts (the <c>aggregate</c> task's
    /// <c>federated_average</c>), with the model and hyperparameters of the first part and each part's final loss.
    /// </summary>
    private static JsonObject FederatedRound(IReadOnlyList<JsonObject> results)
    {
        var inputs = results.Select((r, i) => new Tasks.Builtin.Aggregate.AggregateInput(r, $"part {i}")).ToList();
        var average = Tasks.Builtin.Aggregate.AggregateStrategies.Combine("federated_average", inputs, null, CancellationToken.None)["value"]!.AsObject();
        var first = results.Count > 0 ? results[0] : [];
        var round = new JsonObject
        {
            ["model"] = first["model"]?.DeepClone(),
            ["parameters"] = average["parameters"]?.DeepClone(),
            ["sampleCount"] = average["sampleCount"]?.DeepClone(),
            ["hyperparameters"] = first["hyperparameters"]?.DeepClone(),
            ["federated"] = new JsonObject
            {
                ["parts"] = results.Count,
                ["sampleCounts"] = new JsonArray([.. results.Select(r => r["sampleCount"]?.DeepClone())]),
                ["finalLosses"] = new JsonArray([.. results.Select(r => r["finalLoss"]?.DeepClone())]),
            },
        };
        if (first["task"] is { } task)
        {
            round["task"] = task.DeepClone();
        }

        return round;
    }

    /// <summary>
    /// The final reduction of a splittable pipeline ("" for none); null when the pipeline does not split, with the
    /// reason in <paramref name="why"/> (null when the task is not a readable pipeline: its own validation says why).
    /// </summary>
    private static string? ProcessReduction(TaskSpec task, out string? why)
    {
        why = null;
        if (task.Data["pipeline"] is not JsonArray pipeline || task.Data["input"] is not JsonArray)
        {
            return null;
        }

        for (var i = 0; i < pipeline.Count; i++)
        {
            var stage = pipeline[i] as JsonObject;
            var op = stage is null ? null : GroupMessages.Text(stage, "op");
            var last = i == pipeline.Count - 1;
            if (op is "map" or "filter" || (op == "hash" && (GroupMessages.Text(stage!, "scope") ?? "each") == "each"))
            {
                continue;
            }

            var function = op == "reduce" ? GroupMessages.Text(stage!, "fn") : op;
            if (last && function is not null && Reductions.Contains(function))
            {
                return function;
            }

            why = $"data.pipeline[{i}] ({op ?? "no op"}{(op == "reduce" ? " " + function : "")}) needs all the items at once; a split process pipeline may hold only map, filter and hash (scope each), then at most one final sum, min, max or count.";
            return null;
        }

        return "";
    }

    private static JsonObject PartConfig(JsonObject config)
    {
        var copy = (JsonObject)config.DeepClone();
        copy.Remove("split");
        copy.Remove("redundancy");
        return copy;
    }

    /// <summary>Contiguous chunks of nearly equal size (the first ones one larger); never an empty chunk unless there is nothing.</summary>
    private static IEnumerable<(int Start, int Count)> Chunks(int length, int parts)
    {
        foreach (var (start, count) in Chunks((long)length, parts))
        {
            yield return ((int)start, (int)count);
        }
    }

    private static IEnumerable<(long Start, long Count)> Chunks(long length, int parts)
    {
        parts = (int)Math.Max(1, Math.Min(parts, Math.Max(length, 1)));
        var size = length / parts;
        var extra = length % parts;
        long start = 0;
        for (var i = 0; i < parts; i++)
        {
            var count = size + (i < extra ? 1 : 0);
            yield return (start, count);
            start += count;
        }
    }

    private static JsonArray Concat(IEnumerable<JsonNode?> arrays) =>
        new([.. arrays.SelectMany(a => a as JsonArray ?? []).Select(i => i?.DeepClone())]);

    /// <summary>
    /// Reduces the parts' values as the whole task would: whole numbers exactly, written as a process pipeline writes
    /// them (a double) or as the Wasm runtime writes an i64 (a number up to 2^53, else a string); other numbers as
    /// doubles; nulls (a part with no items) are skipped.
    /// </summary>
    private static JsonNode? Reduce(string function, IEnumerable<JsonNode?> values, bool process)
    {
        var numbers = values.Where(v => v is not null).Select(v => Number(v!)).ToList();
        if (function == "count")
        {
            return JsonValue.Create(numbers.Sum(n => (long)n.Whole!.Value));
        }

        if (numbers.Count == 0)
        {
            return function == "sum" ? JsonValue.Create(0) : null;
        }

        if (numbers.All(n => n.Whole is not null))
        {
            var whole = function switch
            {
                "min" => numbers.Min(n => n.Whole!.Value),
                "max" => numbers.Max(n => n.Whole!.Value),
                _ => numbers.Aggregate(Int128.Zero, (sum, n) => sum + n.Whole!.Value),
            };
            if (!process && function == "sum")
            {
                // A Wasm i64 sum wraps around: the whole range's function would have returned the sum modulo 2^64.
                whole = (long)(ulong)(whole & ulong.MaxValue);
            }

            return Whole(whole, process || numbers.Any(n => n.WasDouble));
        }

        var real = numbers.Select(n => n.Real).ToList();
        return JsonValue.Create(function switch
        {
            "min" => real.Min(),
            "max" => real.Max(),
            _ => real.Sum(),
        });
    }

    private static JsonNode Whole(Int128 value, bool asDouble)
    {
        const long MaxSafe = 9_007_199_254_740_991;
        if (asDouble)
        {
            return JsonValue.Create((double)value);
        }

        return value >= -MaxSafe && value <= MaxSafe ? JsonValue.Create((long)value) : JsonValue.Create(value.ToString(CultureInfo.InvariantCulture));
    }

    private readonly record struct PartNumber(Int128? Whole, double Real, bool WasDouble);

    private static PartNumber Number(JsonNode node)
    {
        var text = node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node.ToJsonString();
        if (Int128.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole))
        {
            return new PartNumber(whole, (double)whole, false);
        }

        var real = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        return Math.Abs(real) < 9e15 && real == Math.Floor(real) ? new PartNumber((Int128)real, real, true) : new PartNumber(null, real, true);
    }
}
