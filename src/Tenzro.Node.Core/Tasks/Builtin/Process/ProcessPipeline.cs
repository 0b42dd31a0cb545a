using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks.Builtin.Expressions;

namespace Tenzro.Node.Core.Tasks.Builtin.Process;

/// <summary>
/// The stages of a <c>process</c> task, read from <c>data.pipeline</c>, or from the regional shorthand
/// <c>data.config.op</c> (else <c>config.op</c>): one operation whose other fields sit beside <c>op</c>.
/// </summary>
/// <remarks>Immutable once built; <see cref="Run"/> may be called concurrently.</remarks>
internal sealed class ProcessPipeline
{
    /// <summary>The most items <c>data.input</c> may hold.</summary>
    public const int MaxItems = 1_000_000;

    /// <summary>The most stages a pipeline may have.</summary>
    public const int MaxStages = 32;

    /// <summary>Every operation name, in the order the documentation lists them.</summary>
    public static readonly string[] Operations = ["map", "filter", "sort", "distinct", "group", "reduce", "hash", "sum", "min", "max", "mean", "average", "count"];

    private ProcessPipeline(IReadOnlyList<ProcessStage> stages) => Stages = stages;

    public IReadOnlyList<ProcessStage> Stages { get; }

    /// <summary>Reads and checks the input and the stages; returns null after adding errors.</summary>
    public static ProcessPipeline? Build(TaskSpec task, ValidationErrors errors)
    {
        var before = errors.ToDictionary().Count;
        CheckInput(task.Data["input"], errors);

        var stages = new List<ProcessStage>();
        if (task.Data["pipeline"] is { } pipeline)
        {
            if (pipeline is not JsonArray array)
            {
                errors.AddTypeError("data.pipeline", "must be an array of operations, e.g. [{\"op\":\"map\",\"expr\":\"x * 2\"}].");
            }
            else if (array.Count > MaxStages)
            {
                errors.Add("data.pipeline", $"has {array.Count} operations; the limit is {MaxStages}.");
            }
            else
            {
                for (var i = 0; i < array.Count; i++)
                {
                    if (ReadStage(array[i], $"data.pipeline[{i}]", errors) is { } stage)
                    {
                        stages.Add(stage);
                    }
                }
            }
        }
        else if (Shorthand(task) is { } shorthand)
        {
            if (ReadStage(shorthand.Config, shorthand.Field, errors) is { } stage)
            {
                stages.Add(stage);
            }
        }
        else
        {
            errors.Add("data.pipeline", "is required: a list of operations such as [{\"op\":\"map\",\"expr\":\"x * 2\"}], or data.config.op for one operation such as {\"op\":\"sum\"}.");
        }

        for (var i = 0; i + 1 < stages.Count; i++)
        {
            if (stages[i] is ValueStage)
            {
                errors.Add(stages[i + 1].Field, $"'{stages[i + 1].Op}' needs an array, but {stages[i].Field} ('{stages[i].Op}') gives a single value; it must be the last operation.");
            }
        }

        return errors.ToDictionary().Count == before ? new ProcessPipeline(stages) : null;
    }

    /// <summary>Runs the stages over <paramref name="input"/>; reports progress after each stage.</summary>
    /// <exception cref="TaskExecutionException">A stage failed on an item.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired.</exception>
    public JsonNode? Run(JsonArray input, IProgress<double> progress, CancellationToken cancellationToken)
    {
        // One read-only copy of the input, read in place by every stage: items are never copied or mutated.
        var document = JsonSerializer.SerializeToElement(input);
        var items = new List<ExpressionValue>(document.GetArrayLength());
        foreach (var element in document.EnumerateArray())
        {
            try
            {
                items.Add(ExpressionValue.FromElement(element));
            }
            catch (FormatException e)
            {
                throw new TaskExecutionException($"data.input[{items.Count}]: {e.Message}");
            }
        }

        for (var i = 0; i < Stages.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var stage = Stages[i];
            try
            {
                if (stage is ValueStage last)
                {
                    progress.Report(1);
                    return last.Apply(items, cancellationToken);
                }

                items = ((ListStage)stage).Apply(items, cancellationToken);
            }
            catch (FormatException e)
            {
                // A number too large for a double, deep inside an item that a stage compared or hashed.
                throw new TaskExecutionException($"{stage.Field}: {e.Message}");
            }

            progress.Report((i + 1.0) / Stages.Count);
        }

        progress.Report(1);
        var output = new JsonArray();
        for (var i = 0; i < items.Count; i++)
        {
            ProcessStage.Checkpoint(i, cancellationToken);
            output.Add(items[i].ToJsonNode());
        }

        return output;
    }

    private static (JsonObject Config, string Field)? Shorthand(TaskSpec task)
    {
        if (task.Data["config"] is JsonObject dataConfig && dataConfig.ContainsKey("op"))
        {
            return (dataConfig, "data.config");
        }

        return task.Config.ContainsKey("op") ? (task.Config, "config") : null;
    }

    private static void CheckInput(JsonNode? input, ValidationErrors errors)
    {
        switch (input)
        {
            case null:
                errors.Add("data.input", "is required: the JSON array to process, e.g. [1, 2, 3].");
                break;
            case not JsonArray:
                errors.AddTypeError("data.input", "must be a JSON array, e.g. [1, 2, 3].");
                break;
            case JsonArray { Count: > MaxItems } array:
                errors.Add("data.input", $"has {array.Count} items; the limit is {MaxItems}.");
                break;
        }
    }

    private static ProcessStage? ReadStage(JsonNode? node, string field, ValidationErrors errors)
    {
        if (node is not JsonObject stage)
        {
            errors.AddTypeError(field, "must be an object such as {\"op\":\"map\",\"expr\":\"x * 2\"}.");
            return null;
        }

        if (!TryString(stage, field, "op", errors, out var op))
        {
            return null;
        }

        switch (op)
        {
            case null:
                errors.Add($"{field}.op", $"is required; one of {string.Join(", ", Operations)}.");
                return null;
            case "map":
            case "filter":
                var expression = RequiredExpression(stage, field, "expr", errors);
                return expression is null ? null : op == "map" ? new MapStage(field, expression) : new FilterStage(field, expression);
            case "sort":
                if (!TryString(stage, field, "order", errors, out var order))
                {
                    return null;
                }

                if (order is not (null or "asc" or "desc"))
                {
                    errors.Add($"{field}.order", $"'{order}' is not an order; expected asc or desc.");
                    return null;
                }

                return TryExpression(stage, field, "key", errors, out var sortKey) ? new SortStage(field, sortKey, order == "desc") : null;
            case "distinct":
                return TryExpression(stage, field, "key", errors, out var distinctKey) ? new DistinctStage(field, distinctKey) : null;
            case "group":
                return TryExpression(stage, field, "key", errors, out var groupKey) ? new GroupStage(field, groupKey) : null;
            case "reduce":
                if (!TryString(stage, field, "fn", errors, out var function))
                {
                    return null;
                }

                if (function is null)
                {
                    errors.Add($"{field}.fn", $"is required; one of {string.Join(", ", ReduceStage.Functions)}.");
                    return null;
                }

                return Reduce(stage, field, "reduce", function, $"{field}.fn", errors);
            case "sum" or "min" or "max" or "mean" or "average" or "count":
                return Reduce(stage, field, op, op, $"{field}.op", errors);
            case "hash":
                if (!TryString(stage, field, "algorithm", errors, out var algorithm) || !TryString(stage, field, "scope", errors, out var scope))
                {
                    return null;
                }

                algorithm ??= "sha256";
                scope ??= "each";
                if (!HashStage.Algorithms.Contains(algorithm))
                {
                    errors.Add($"{field}.algorithm", $"'{algorithm}' is not a hash algorithm here; expected one of {string.Join(", ", HashStage.Algorithms)}.");
                    return null;
                }

                if (scope is not ("each" or "whole"))
                {
                    errors.Add($"{field}.scope", $"'{scope}' is not a scope; expected each (a digest per item) or whole (one digest of the array).");
                    return null;
                }

                return HashStage.Create(field, algorithm, scope == "whole");
            default:
                errors.Add($"{field}.op", $"'{op}' is not an operation; expected one of {string.Join(", ", Operations)}.");
                return null;
        }
    }

    private static ReduceStage? Reduce(JsonObject stage, string field, string op, string function, string functionField, ValidationErrors errors)
    {
        if (function == "average")
        {
            function = "mean";
        }

        if (!ReduceStage.Functions.Contains(function))
        {
            errors.Add(functionField, $"'{function}' is not a reduce function; expected one of {string.Join(", ", ReduceStage.Functions)}.");
            return null;
        }

        return TryExpression(stage, field, "key", errors, out var key) ? new ReduceStage(field, op, function, key) : null;
    }

    /// <summary>Reads an optional string member (null when absent or JSON null); false after a type error.</summary>
    private static bool TryString(JsonObject stage, string field, string name, ValidationErrors errors, out string? value)
    {
        value = null;
        if (stage[name] is not { } node)
        {
            return true;
        }

        if (node.GetValueKind() != JsonValueKind.String)
        {
            errors.AddTypeError($"{field}.{name}", "must be a string.");
            return false;
        }

        value = node.GetValue<string>();
        return true;
    }

    private static Expression? RequiredExpression(JsonObject stage, string field, string name, ValidationErrors errors)
    {
        if (!TryExpression(stage, field, name, errors, out var expression))
        {
            return null;
        }

        if (expression is null)
        {
            errors.Add($"{field}.{name}", "is required: an expression over the item x, e.g. \"x * 2 + 1\".");
        }

        return expression;
    }

    /// <summary>Parses an optional expression member (null when absent); false after an error.</summary>
    private static bool TryExpression(JsonObject stage, string field, string name, ValidationErrors errors, out Expression? expression)
    {
        expression = null;
        if (!TryString(stage, field, name, errors, out var text))
        {
            return false;
        }

        if (text is null)
        {
            return true;
        }

        try
        {
            expression = Expression.Parse(text);
            return true;
        }
        catch (ExpressionSyntaxException e)
        {
            errors.Add($"{field}.{name}", $"{e.Message}.");
            return false;
        }
    }
}
