using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Tasks.Builtin.Aggregate;

namespace Tenzro.Node.Core.Tasks.Builtin;

/// <summary>
/// The <c>aggregate</c> task: combines <c>data.inputs</c> and the results of completed tasks named in
/// <c>data.taskIds</c> (optionally the member <c>data.path</c> of each result) by <c>data.strategy</c>, and
/// returns <c>{"value": …, "count": n}</c>. See docs/TASKS.md.
/// </summary>
/// <remarks>
/// Thread-safe. The regional form is accepted too: <c>data.input</c> for the inputs, and the strategy in
/// <c>data.config.strategy</c> or <c>config.strategy</c>. <c>data.taskIds</c> can name only tasks of this
/// task's origin: a regional task cannot read the results of tasks submitted through the API, nor the other way round.
/// </remarks>
internal sealed class AggregateRuntime(ITaskStore store) : ITaskRuntime
{
    /// <summary>The most values <c>data.inputs</c> may hold.</summary>
    public const int MaxInputs = 1_000_000;

    /// <summary>The most tasks <c>data.taskIds</c> may name.</summary>
    public const int MaxTaskIds = 10_000;

    public IReadOnlyCollection<string> Types { get; } = ["aggregate"];

    /// <summary>Managed code only: the attempt is stored with the first write, not before the run.</summary>
    public bool MayCrashTheProcess => false;

    public void Validate(TaskSpec task, ValidationErrors errors) => _ = Read(task, errors);

    public Task<JsonObject> ExecuteAsync(TaskExecutionContext context) =>
        Task.Run(
            () => context.CpuTime.Measure(() =>
            {
                var errors = new ValidationErrors();
                var request = Read(context.Task, errors) ?? throw new TaskExecutionException(errors.ToString());
                var inputs = new List<AggregateInput>(request.Inputs.Count + request.TaskIds.Count);
                for (var i = 0; i < request.Inputs.Count; i++)
                {
                    inputs.Add(new AggregateInput(request.Inputs[i]?.DeepClone(), $"{request.InputsField}[{i}]"));
                }

                for (var i = 0; i < request.TaskIds.Count; i++)
                {
                    context.CancellationToken.ThrowIfCancellationRequested();
                    inputs.Add(ResultOf(request.TaskIds[i], i, request.Path, context.Task.Owner));
                }

                context.Progress.Report(0.5);
                var result = AggregateStrategies.Combine(request.Strategy, inputs, request.Weights, context.CancellationToken);
                context.Progress.Report(1);
                return result;
            }),
            context.CancellationToken);

    private AggregateInput ResultOf(string taskId, int index, ResultPath? path, string reader)
    {
        var label = $"data.taskIds[{index}] ('{taskId}')";

        // A task of another owner is as unknown as a missing one: its existence is not this task's business.
        var record = (store.Get(taskId) is { } found && TaskOwners.MayRead(reader, found.Spec.Owner) ? found : null)
            ?? throw new TaskExecutionException($"{label}: no task with this id is known on this node");
        if (record.State != TaskState.Completed)
        {
            throw new TaskExecutionException($"{label}: the task is {record.State.ToWire()}, not completed{(record.Error is null ? string.Empty : $" ({record.Error})")}; aggregate only completed tasks");
        }

        if (record.Result is null)
        {
            throw new TaskExecutionException($"{label}: the task's result has expired (RESULT_RETENTION_PERIOD)");
        }

        var result = JsonNode.Parse(record.Result);
        if (path is null)
        {
            return new AggregateInput(result, label);
        }

        if (!path.TrySelect(result, out var selected))
        {
            throw new TaskExecutionException($"{label}: the result has nothing at data.path '{path.Text}'");
        }

        return new AggregateInput(selected?.DeepClone(), $"{label} {path.Text}");
    }

    private static Request? Read(TaskSpec task, ValidationErrors errors)
    {
        var data = task.Data;
        var valid = true;

        var (strategyNode, strategyField) = data["strategy"] is { } s ? (s, "data.strategy")
            : data["config"] is JsonObject c && c["strategy"] is { } cs ? (cs, "data.config.strategy")
            : (task.Config["strategy"], "config.strategy");
        string? strategy = null;
        if (strategyNode is null)
        {
            errors.Add("data.strategy", $"is required; one of {string.Join(", ", AggregateStrategies.Names)}.");
            valid = false;
        }
        else if (strategyNode.GetValueKind() != JsonValueKind.String)
        {
            errors.AddTypeError(strategyField, "must be a string.");
            valid = false;
        }
        else if (!AggregateStrategies.Names.Contains(strategy = strategyNode.GetValue<string>()))
        {
            errors.Add(strategyField, $"'{strategy}' is not a strategy; expected one of {string.Join(", ", AggregateStrategies.Names)}.");
            valid = false;
        }

        var inputsName = data.ContainsKey("inputs") ? "inputs" : "input";
        var inputsField = $"data.{inputsName}";
        JsonArray inputs = [];
        switch (data[inputsName])
        {
            case null:
                break;
            case JsonArray array when array.Count > MaxInputs:
                errors.Add(inputsField, $"has {array.Count} values; the limit is {MaxInputs}.");
                valid = false;
                break;
            case JsonArray array:
                inputs = array;
                break;
            default:
                errors.AddTypeError(inputsField, "must be an array of values to combine.");
                valid = false;
                break;
        }

        var taskIds = new List<string>();
        switch (data["taskIds"])
        {
            case null:
                break;
            case JsonArray array when array.Count > MaxTaskIds:
                errors.Add("data.taskIds", $"names {array.Count} tasks; the limit is {MaxTaskIds}.");
                valid = false;
                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    if (array[i] is JsonValue id && id.GetValueKind() == JsonValueKind.String && id.GetValue<string>().Length > 0)
                    {
                        taskIds.Add(id.GetValue<string>());
                    }
                    else
                    {
                        errors.AddTypeError($"data.taskIds[{i}]", "must be a task id (a non-empty string).");
                        valid = false;
                    }
                }

                break;
            default:
                errors.AddTypeError("data.taskIds", "must be an array of task ids.");
                valid = false;
                break;
        }

        if (valid && inputs.Count + taskIds.Count == 0)
        {
            errors.Add("data.inputs", "there is nothing to aggregate: give values in data.inputs, or completed tasks in data.taskIds.");
            valid = false;
        }

        ResultPath? path = null;
        if (data["path"] is not null)
        {
            if (new JsonFields(data, "data", errors).OptionalString("path", "must be a string such as \"output\" or \"returns.0\".") is not { } pathText)
            {
                valid = false;
            }
            else if (!ResultPath.TryParse(pathText, out path, out var pathError))
            {
                errors.Add("data.path", pathError!);
                valid = false;
            }
        }

        List<double>? weights = null;
        if (strategy == "weighted_average")
        {
            weights = ReadWeights(data["weights"], inputs.Count + taskIds.Count, errors);
            valid &= weights is not null;
        }

        return valid ? new Request(strategy!, inputs, inputsField, taskIds, path, weights) : null;
    }

    private static List<double>? ReadWeights(JsonNode? node, int count, ValidationErrors errors)
    {
        if (node is null)
        {
            errors.Add("data.weights", "is required for weighted_average: one non-negative number per input.");
            return null;
        }

        if (node is not JsonArray array)
        {
            errors.AddTypeError("data.weights", "must be an array of numbers, one per input.");
            return null;
        }

        var weights = new List<double>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonValue value || value.GetValueKind() != JsonValueKind.Number)
            {
                errors.AddTypeError($"data.weights[{i}]", "must be a number.");
                return null;
            }

            var weight = Json.JsonFields.NumberOf(value);
            if (weight < 0)
            {
                errors.Add($"data.weights[{i}]", $"is {weight}; weights must be 0 or more.");
                return null;
            }

            weights.Add(weight);
        }

        if (weights.Count != count)
        {
            errors.Add("data.weights", $"has {weights.Count} weight(s) for {count} input(s) (data.inputs, then data.taskIds); give one per input.");
            return null;
        }

        if (!(weights.Sum() > 0))
        {
            errors.Add("data.weights", "add up to 0; at least one weight must be above 0.");
            return null;
        }

        return weights;
    }

    private sealed record Request(string Strategy, JsonArray Inputs, string InputsField, List<string> TaskIds, ResultPath? Path, List<double>? Weights);
}
