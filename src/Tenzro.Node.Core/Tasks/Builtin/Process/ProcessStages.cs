using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks.Builtin.Expressions;

namespace Tenzro.Node.Core.Tasks.Builtin.Process;

/// <summary>One step of a <c>process</c> pipeline. Stages are immutable and may run on several tasks at once.</summary>
internal abstract class ProcessStage(string field, string op)
{
    /// <summary>Where the stage was declared, e.g. <c>data.pipeline[2]</c>, for messages.</summary>
    public string Field { get; } = field;

    public string Op { get; } = op;

    /// <summary>How many items a loop handles between cancellation checks.</summary>
    protected const int CheckEvery = 4096;

    protected ExpressionValue Evaluate(Expression expression, string member, ExpressionValue item, int index)
    {
        try
        {
            return expression.Evaluate(item);
        }
        catch (ExpressionEvaluationException e)
        {
            throw new TaskExecutionException($"{Field}.{member}: item {index}: {e.Message}");
        }
    }

    public static void Checkpoint(int index, CancellationToken cancellationToken)
    {
        if (index % CheckEvery == 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
        }
    }
}

/// <summary>A stage that turns an array into an array.</summary>
internal abstract class ListStage(string field, string op) : ProcessStage(field, op)
{
    /// <summary>Returns the new items.</summary>
    public abstract List<ExpressionValue> Apply(List<ExpressionValue> items, CancellationToken cancellationToken);
}

/// <summary>A stage that turns an array into one value; it must be the last stage.</summary>
internal abstract class ValueStage(string field, string op) : ProcessStage(field, op)
{
    public abstract JsonNode? Apply(List<ExpressionValue> items, CancellationToken cancellationToken);
}

/// <summary><c>map</c>: each item becomes the value of <c>expr</c>.</summary>
internal sealed class MapStage(string field, Expression expression) : ListStage(field, "map")
{
    public override List<ExpressionValue> Apply(List<ExpressionValue> items, CancellationToken cancellationToken)
    {
        var output = new List<ExpressionValue>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            Checkpoint(i, cancellationToken);
            output.Add(Evaluate(expression, "expr", items[i], i));
        }

        return output;
    }
}

/// <summary><c>filter</c>: keeps the items for which <c>expr</c> is true; it must give true or false.</summary>
internal sealed class FilterStage(string field, Expression expression) : ListStage(field, "filter")
{
    public override List<ExpressionValue> Apply(List<ExpressionValue> items, CancellationToken cancellationToken)
    {
        var output = new List<ExpressionValue>();
        for (var i = 0; i < items.Count; i++)
        {
            Checkpoint(i, cancellationToken);
            var keep = Evaluate(expression, "expr", items[i], i);
            if (keep.Kind != ValueKind.Boolean)
            {
                throw new TaskExecutionException($"{Field}.expr: item {i}: a filter must give true or false, got {keep.KindName}");
            }

            if (keep.Boolean)
            {
                output.Add(items[i]);
            }
        }

        return output;
    }
}

/// <summary>
/// <c>sort</c>: stable sort by the item or by <c>key</c>. Order across kinds: null, false, true, numbers,
/// strings (by UTF-16 code unit), then arrays and objects (by canonical JSON); <c>desc</c> reverses it,
/// and equal keys keep their input order either way.
/// </summary>
internal sealed class SortStage(string field, Expression? key, bool descending) : ListStage(field, "sort")
{
    public override List<ExpressionValue> Apply(List<ExpressionValue> items, CancellationToken cancellationToken)
    {
        var keys = new SortKey[items.Count];
        var order = new int[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            Checkpoint(i, cancellationToken);
            keys[i] = SortKey.Of(key is null ? items[i] : Evaluate(key, "key", items[i], i));
            order[i] = i;
        }

        var sign = descending ? -1 : 1;
        Array.Sort(order, (a, b) =>
        {
            var byKey = sign * keys[a].CompareTo(keys[b]);
            return byKey != 0 ? byKey : a.CompareTo(b);
        });
        cancellationToken.ThrowIfCancellationRequested();
        return [.. order.Select(i => items[i])];
    }

    private readonly record struct SortKey(int Rank, double Number, string? Text)
    {
        public static SortKey Of(ExpressionValue value) => value.Kind switch
        {
            ValueKind.Null => new SortKey(0, 0, null),
            ValueKind.Boolean => new SortKey(1, value.Boolean ? 1 : 0, null),
            ValueKind.Number => new SortKey(2, value.Number, null),
            ValueKind.String => new SortKey(3, 0, value.String),
            _ => new SortKey(4, 0, value.ToCanonicalString()),
        };

        public int CompareTo(SortKey other)
        {
            if (Rank != other.Rank)
            {
                return Rank.CompareTo(other.Rank);
            }

            return Rank >= 3 ? string.CompareOrdinal(Text, other.Text) : Number.CompareTo(other.Number);
        }
    }
}

/// <summary><c>distinct</c>: keeps the first item of each distinct value (or <c>key</c>), compared by canonical JSON.</summary>
internal sealed class DistinctStage(string field, Expression? key) : ListStage(field, "distinct")
{
    public override List<ExpressionValue> Apply(List<ExpressionValue> items, CancellationToken cancellationToken)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var output = new List<ExpressionValue>();
        for (var i = 0; i < items.Count; i++)
        {
            Checkpoint(i, cancellationToken);
            var value = key is null ? items[i] : Evaluate(key, "key", items[i], i);
            if (seen.Add(value.IdentityKey()))
            {
                output.Add(items[i]);
            }
        }

        return output;
    }
}

/// <summary>
/// <c>group</c>: counts items per value of <c>key</c> (default the item): an object from key to count. A
/// string key is used as is; any other key as its canonical JSON, so 1 and "1" share a group.
/// </summary>
internal sealed class GroupStage(string field, Expression? key) : ValueStage(field, "group")
{
    public override JsonNode? Apply(List<ExpressionValue> items, CancellationToken cancellationToken)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < items.Count; i++)
        {
            Checkpoint(i, cancellationToken);
            var value = key is null ? items[i] : Evaluate(key, "key", items[i], i);
            var name = value.Kind == ValueKind.String ? value.String : value.ToCanonicalString();
            counts[name] = counts.GetValueOrDefault(name) + 1;
        }

        var output = new JsonObject();
        foreach (var (name, count) in counts.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            output[name] = count;
        }

        return output;
    }
}

/// <summary>
/// <c>reduce</c> (or the op names sum, min, max, mean, count): one number from the items or their
/// <c>key</c>. Sums run left to right in input order. Over no items: sum and count give 0; min, max and
/// mean give null.
/// </summary>
internal sealed class ReduceStage(string field, string op, string function, Expression? key) : ValueStage(field, op)
{
    public static readonly string[] Functions = ["sum", "min", "max", "mean", "count"];

    public string Function { get; } = function;

    public override JsonNode? Apply(List<ExpressionValue> items, CancellationToken cancellationToken)
    {
        if (Function == "count")
        {
            return items.Count;
        }

        if (items.Count == 0)
        {
            return Function == "sum" ? JsonValue.Create(0) : null;
        }

        var result = Function switch
        {
            "min" => double.PositiveInfinity,
            "max" => double.NegativeInfinity,
            _ => 0d,
        };
        for (var i = 0; i < items.Count; i++)
        {
            Checkpoint(i, cancellationToken);
            var value = key is null ? items[i] : Evaluate(key, "key", items[i], i);
            if (value.Kind != ValueKind.Number)
            {
                throw new TaskExecutionException($"{Field}: item {i} is {value.KindName}; {Function} needs numbers (give a key, e.g. \"key\": \"x.price\", to pick a number from each item)");
            }

            result = Function switch
            {
                "min" => Math.Min(result, value.Number),
                "max" => Math.Max(result, value.Number),
                _ => result + value.Number,
            };
        }

        if (Function == "mean")
        {
            result /= items.Count;
        }

        if (!double.IsFinite(result))
        {
            throw new TaskExecutionException($"{Field}: the {Function} is too large to represent as a number");
        }

        return JsonValue.Create(result);
    }
}

/// <summary>
/// <c>hash</c>: the lowercase hex digest of the canonical JSON (RFC 8785) of each item (<c>scope: each</c>,
/// an array of digests) or of the whole array (<c>scope: whole</c>, one digest).
/// </summary>
internal static class HashStage
{
    public static readonly string[] Algorithms = ["sha256", "sha384", "sha512"];

    public static ProcessStage Create(string field, string algorithm, bool whole) =>
        whole ? new Whole(field, algorithm) : new Each(field, algorithm);

    private static HashAlgorithmName NameOf(string algorithm) => algorithm switch
    {
        "sha384" => HashAlgorithmName.SHA384,
        "sha512" => HashAlgorithmName.SHA512,
        _ => HashAlgorithmName.SHA256,
    };

    private sealed class Each(string field, string algorithm) : ListStage(field, "hash")
    {
        public override List<ExpressionValue> Apply(List<ExpressionValue> items, CancellationToken cancellationToken)
        {
            var name = NameOf(algorithm);
            var output = new List<ExpressionValue>(items.Count);
            for (var i = 0; i < items.Count; i++)
            {
                Checkpoint(i, cancellationToken);
                using var hash = IncrementalHash.CreateHash(name);
                hash.AppendData(items[i].ToCanonicalBytes());
                output.Add(ExpressionValue.FromString(Convert.ToHexStringLower(hash.GetHashAndReset())));
            }

            return output;
        }
    }

    private sealed class Whole(string field, string algorithm) : ValueStage(field, "hash")
    {
        public override JsonNode? Apply(List<ExpressionValue> items, CancellationToken cancellationToken)
        {
            // The canonical form of an array is its items' canonical forms, comma-separated, in brackets.
            using var hash = IncrementalHash.CreateHash(NameOf(algorithm));
            hash.AppendData("["u8);
            for (var i = 0; i < items.Count; i++)
            {
                Checkpoint(i, cancellationToken);
                if (i > 0)
                {
                    hash.AppendData(","u8);
                }

                hash.AppendData(items[i].ToCanonicalBytes());
            }

            hash.AppendData("]"u8);
            return JsonValue.Create(Convert.ToHexStringLower(hash.GetHashAndReset()));
        }
    }
}
