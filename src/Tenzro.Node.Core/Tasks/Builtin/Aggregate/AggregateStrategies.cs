using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Core.Tasks.Builtin.Aggregate;

/// <summary>One value to combine, and how to name it in a message (<c>data.inputs[2]</c>, <c>task 't1'</c>).</summary>
internal sealed record AggregateInput(JsonNode? Value, string Label);

/// <summary>
/// The strategies of the <c>aggregate</c> task. Each is deterministic: arithmetic runs left to right in
/// input order, and every choice (median order, majority ties) is fixed by the values alone.
/// </summary>
/// <remarks>Stateless and thread-safe. Input nodes must have no parent; they may be moved into the result.</remarks>
internal static class AggregateStrategies
{
    public static readonly string[] Names = ["sum", "average", "median", "majority", "concat", "weighted_average", "federated_average"];

    /// <summary>Combines <paramref name="inputs"/> (at least one) into <c>{"value", "count"}</c> (+ <c>votes</c>, <c>tie</c> for majority).</summary>
    /// <param name="strategy">One of <see cref="Names"/>.</param>
    /// <param name="inputs">The values, in order.</param>
    /// <param name="weights">For weighted_average: one non-negative weight per input.</param>
    /// <param name="cancellationToken">Checked between elements.</param>
    /// <exception cref="TaskExecutionException">An input does not fit the strategy.</exception>
    public static JsonObject Combine(string strategy, IReadOnlyList<AggregateInput> inputs, IReadOnlyList<double>? weights, CancellationToken cancellationToken)
    {
        if (inputs.Count == 0)
        {
            throw new TaskExecutionException("there is nothing to aggregate: give data.inputs or data.taskIds");
        }

        var result = new JsonObject();
        switch (strategy)
        {
            case "sum":
                result["value"] = new Numeric(strategy, inputs, null, 1, cancellationToken).Combine();
                break;
            case "average":
                result["value"] = new Numeric(strategy, inputs, null, inputs.Count, cancellationToken).Combine();
                break;
            case "weighted_average":
                result["value"] = WeightedAverage(inputs, weights, cancellationToken);
                break;
            case "federated_average":
                result["value"] = FederatedAverage(inputs, cancellationToken);
                break;
            case "median":
                result["value"] = Median(inputs);
                break;
            case "majority":
                Majority(inputs, result);
                break;
            case "concat":
                result["value"] = Concat(inputs);
                break;
            default:
                throw new TaskExecutionException($"'{strategy}' is not a strategy; expected one of {string.Join(", ", Names)}");
        }

        result["count"] = inputs.Count;
        return result;
    }

    private static JsonNode WeightedAverage(IReadOnlyList<AggregateInput> inputs, IReadOnlyList<double>? weights, CancellationToken cancellationToken)
    {
        if (weights is null || weights.Count != inputs.Count)
        {
            throw new TaskExecutionException($"weighted_average needs one weight per input: {inputs.Count} input(s), {weights?.Count ?? 0} weight(s) in data.weights");
        }

        var total = 0d;
        foreach (var weight in weights)
        {
            total += weight;
        }

        if (!(total > 0) || !double.IsFinite(total))
        {
            throw new TaskExecutionException("the weights in data.weights add up to 0; at least one must be above 0");
        }

        return new Numeric("weighted_average", inputs, weights, total, cancellationToken).Combine();
    }

    /// <summary>Averages <c>parameters</c> weighted by <c>sampleCount</c>; the value has the same shape as an input, so averages can be averaged again.</summary>
    private static JsonObject FederatedAverage(IReadOnlyList<AggregateInput> inputs, CancellationToken cancellationToken)
    {
        var parameters = new List<AggregateInput>(inputs.Count);
        var samples = new List<double>(inputs.Count);
        var total = 0d;
        foreach (var input in inputs)
        {
            if (input.Value is not JsonObject update || update["parameters"] is not { } p || update["sampleCount"] is not JsonValue count || count.GetValueKind() != JsonValueKind.Number)
            {
                throw new TaskExecutionException($"{input.Label} is not a training update: federated_average needs objects like {{\"parameters\":{{\"w\":[0.1,0.2],\"b\":[0]}},\"sampleCount\":100}}");
            }

            var n = Json.JsonFields.NumberOf(count);
            if (n < 0 || !double.IsFinite(n))
            {
                throw new TaskExecutionException($"{input.Label}.sampleCount is {n.ToString(CultureInfo.InvariantCulture)}; it must be 0 or more");
            }

            parameters.Add(new AggregateInput(p, $"{input.Label}.parameters"));
            samples.Add(n);
            total += n;
        }

        if (!(total > 0))
        {
            throw new TaskExecutionException("every input has sampleCount 0; federated_average weights by sampleCount, so at least one must be above 0");
        }

        return new JsonObject
        {
            ["parameters"] = new Numeric("federated_average", parameters, samples, total, cancellationToken).Combine(),
            ["sampleCount"] = total,
        };
    }

    /// <summary>The middle number; for an even count, the mean of the two middle numbers.</summary>
    private static JsonNode Median(IReadOnlyList<AggregateInput> inputs)
    {
        var numbers = new double[inputs.Count];
        for (var i = 0; i < inputs.Count; i++)
        {
            numbers[i] = Number(inputs[i].Value, inputs[i].Label, "median");
        }

        Array.Sort(numbers);
        var middle = numbers.Length / 2;
        if (numbers.Length % 2 == 1)
        {
            return numbers[middle];
        }

        var mean = (numbers[middle - 1] + numbers[middle]) / 2;
        return double.IsFinite(mean) ? mean : (numbers[middle - 1] / 2) + (numbers[middle] / 2);
    }

    /// <summary>
    /// Counts equal values (equal canonical JSON). The winner has the most votes; among values with the same
    /// count the one whose canonical JSON sorts first (by UTF-16 code unit) wins, so the input order never
    /// matters. <c>votes</c> lists every value in that same order.
    /// </summary>
    private static void Majority(IReadOnlyList<AggregateInput> inputs, JsonObject result)
    {
        var tally = new Dictionary<string, (int Count, JsonNode? Value)>(StringComparer.Ordinal);
        foreach (var input in inputs)
        {
            var key = Canonical(input.Value);
            tally[key] = tally.TryGetValue(key, out var entry) ? (entry.Count + 1, entry.Value) : (1, input.Value);
        }

        var ranked = tally.OrderByDescending(e => e.Value.Count).ThenBy(e => e.Key, StringComparer.Ordinal).ToList();
        var votes = new JsonArray();
        foreach (var (_, (count, value)) in ranked)
        {
            votes.Add(new JsonObject { ["value"] = value?.DeepClone(), ["count"] = count });
        }

        result["value"] = ranked[0].Value.Value?.DeepClone();
        result["votes"] = votes;
        result["tie"] = ranked.Count > 1 && ranked[1].Value.Count == ranked[0].Value.Count;
    }

    /// <summary>All strings: one string. Otherwise an array: an array input gives its items, anything else itself.</summary>
    private static JsonNode Concat(IReadOnlyList<AggregateInput> inputs)
    {
        if (inputs.All(i => i.Value is JsonValue v && v.GetValueKind() == JsonValueKind.String))
        {
            return string.Concat(inputs.Select(i => i.Value!.GetValue<string>()));
        }

        var output = new JsonArray();
        foreach (var input in inputs)
        {
            if (input.Value is JsonArray array)
            {
                var items = array.ToList();
                array.Clear();
                foreach (var item in items)
                {
                    output.Add(item);
                }
            }
            else
            {
                output.Add(input.Value);
            }
        }

        return output;
    }

    private static string Canonical(JsonNode? node)
    {
        try
        {
            return System.Text.Encoding.UTF8.GetString(CanonicalJson.Serialize(node));
        }
        catch (FormatException e)
        {
            throw new TaskExecutionException($"a value cannot be compared: {e.Message}");
        }
    }

    private static double Number(JsonNode? node, string label, string strategy)
    {
        if (node is JsonValue value && value.GetValueKind() == JsonValueKind.Number)
        {
            var number = Json.JsonFields.NumberOf(value);
            return double.IsFinite(number) ? number : throw new TaskExecutionException($"{label} is a number too large for a double");
        }

        throw new TaskExecutionException($"{label} is {Describe(node)}; {strategy} needs numbers");
    }

    private static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonArray => "an array",
        JsonObject => "an object",
        _ => node.GetValueKind() switch
        {
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            _ => "a boolean",
        },
    };

    /// <summary>
    /// Element-wise Σ wᵢ·xᵢ / divisor over numbers, or arrays and objects of numbers with the same shape
    /// (objects by the same member names). Without weights every wᵢ is 1.
    /// </summary>
    private sealed class Numeric(string strategy, IReadOnlyList<AggregateInput> inputs, IReadOnlyList<double>? weights, double divisor, CancellationToken cancellationToken)
    {
        private int _elements;

        public JsonNode Combine()
        {
            var nodes = new JsonNode?[inputs.Count];
            for (var i = 0; i < nodes.Length; i++)
            {
                nodes[i] = inputs[i].Value;
            }

            return Combine(nodes, string.Empty);
        }

        private JsonNode Combine(JsonNode?[] nodes, string path)
        {
            if (++_elements % 4096 == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            switch (nodes[0])
            {
                case JsonArray first:
                {
                    var children = new JsonNode?[nodes.Length];
                    var output = new JsonArray();
                    for (var i = 0; i < nodes.Length; i++)
                    {
                        if (nodes[i] is not JsonArray other || other.Count != first.Count)
                        {
                            throw Mismatch(i, path, nodes[i], $"an array of {first.Count} element(s) as in {inputs[0].Label}{path}");
                        }
                    }

                    for (var j = 0; j < first.Count; j++)
                    {
                        for (var i = 0; i < nodes.Length; i++)
                        {
                            children[i] = nodes[i]![j];
                        }

                        output.Add(Combine(children, $"{path}[{j}]"));
                    }

                    return output;
                }

                case JsonObject first:
                {
                    var names = first.Select(m => m.Key).Order(StringComparer.Ordinal).ToList();
                    for (var i = 0; i < nodes.Length; i++)
                    {
                        if (nodes[i] is not JsonObject other || other.Count != first.Count || names.Any(n => !other.ContainsKey(n)))
                        {
                            throw Mismatch(i, path, nodes[i], $"an object with the members {string.Join(", ", names)} as in {inputs[0].Label}{path}");
                        }
                    }

                    var children = new JsonNode?[nodes.Length];
                    var output = new JsonObject();
                    foreach (var name in names)
                    {
                        for (var i = 0; i < nodes.Length; i++)
                        {
                            children[i] = nodes[i]![name];
                        }

                        output[name] = Combine(children, $"{path}.{name}");
                    }

                    return output;
                }

                default:
                {
                    var total = 0d;
                    for (var i = 0; i < nodes.Length; i++)
                    {
                        if (nodes[i] is not JsonValue value || value.GetValueKind() != JsonValueKind.Number)
                        {
                            throw Mismatch(i, path, nodes[i], "a number");
                        }

                        var x = Json.JsonFields.NumberOf(value);
                        total += weights is null ? x : weights[i] * x;
                    }

                    var result = total / divisor;
                    if (!double.IsFinite(result))
                    {
                        throw new TaskExecutionException($"the {strategy} of {path.TrimStart('.')} is too large to represent as a number");
                    }

                    return result;
                }
            }
        }

        private TaskExecutionException Mismatch(int index, string path, JsonNode? actual, string expected) =>
            new($"{inputs[index].Label}{path} is {Describe(actual)}, where {strategy} needs {expected}");
    }
}
