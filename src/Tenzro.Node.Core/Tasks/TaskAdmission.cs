using System.Text.Json.Nodes;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Core.Tasks;

/// <summary>Who hands a task to the node: where it came from, who asked, who owns it, and whether the CPU quota applies.</summary>
/// <param name="Origin">One of <see cref="TaskOrigins"/>.</param>
/// <param name="Requester">The key of the quota window (an API key id, else an address).</param>
/// <param name="Owner">Who may read the task's result.</param>
/// <param name="Loopback">The caller came over loopback (exempt from the quota unless QUOTA_LOOPBACK).</param>
/// <param name="ChargeQuota">Whether the requester's CPU quota is checked (the API's callers; not the regional node).</param>
/// <param name="WaitsForEnd">The submitter waits for the task's end (<c>?wait</c>); see <see cref="TaskEngine.SubmitAsync"/>.</param>
public sealed record TaskSubmitter(string Origin, string Requester, string Owner, bool Loopback = false, bool ChargeQuota = false, bool WaitsForEnd = false);

/// <summary>How an admission ended.</summary>
public enum AdmissionStatus
{
    /// <summary>New and durable.</summary>
    Accepted,

    /// <summary>The same task (same id and content) was submitted before.</summary>
    Existing,

    /// <summary>The body is not a valid task; <see cref="AdmissionOutcome.Errors"/> says why.</summary>
    Invalid,

    /// <summary>The requester used up its CPU quota; retry after <see cref="AdmissionOutcome.RetryAfter"/>.</summary>
    QuotaExceeded,

    /// <summary>The node takes no tasks now (draining, stopping, queue or byte budgets full).</summary>
    Refused,

    /// <summary>The task id is taken by a task with other content.</summary>
    Conflict,
}

/// <summary>The typed answer of <see cref="TaskAdmission.AdmitAsync"/>.</summary>
public sealed record AdmissionOutcome
{
    public required AdmissionStatus Status { get; init; }

    /// <summary>The parsed task; null when the body could not be read as one.</summary>
    public TaskSpec? Spec { get; init; }

    /// <summary>The task as it stands after admission (accepted or existing).</summary>
    public TaskView? View { get; init; }

    /// <summary>Field errors of an invalid task.</summary>
    public ValidationErrors? Errors { get; init; }

    /// <summary>Why a task was refused, over quota or invalid, in words.</summary>
    public string? Reason { get; init; }

    public TimeSpan RetryAfter { get; init; }

    /// <summary>True when an invalid task has a wrong JSON type (a 400 rather than a 422).</summary>
    public bool Malformed => Errors?.HasTypeErrors == true;

    public string? TaskId => Spec?.TaskId;
}

/// <summary>
/// The one way into the task engine. Every submitter (the API, the regional node, and later peers and the
/// group leader) hands its task object here: it is read and validated once, checked against the submitter's
/// CPU quota, made durable by the engine, and answered with a typed outcome and the task's view, so that no
/// caller re-reads the store.
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed class TaskAdmission(TaskEngine engine, TaskOptions options, RequesterQuotas quotas)
{
    /// <summary>Reads, validates, checks the quota of, and submits one task object.</summary>
    /// <param name="body">The task object of CONTRACTS.md (a regional assignment is mapped to it first).</param>
    /// <param name="submitter">Origin, requester and owner of the task.</param>
    /// <param name="align">Adjusts the parsed task before it is submitted (the regional intake aligns a repeated assignment with the stored one).</param>
    public async Task<AdmissionOutcome> AdmitAsync(JsonObject body, TaskSubmitter submitter, Func<TaskSpec, TaskSpec>? align = null)
    {
        var errors = new ValidationErrors();
        TaskSpec? spec;
        try
        {
            spec = TaskParser.Parse(body, options.TaskTimeout, engine.Types, submitter.Origin, errors);
            if (spec is not null && engine.Types.Contains(spec.Type))
            {
                engine.Validate(spec, errors);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or System.Text.Json.JsonException or ArgumentException)
        {
            errors.AddTypeError("task", $"the task cannot be read: {e.Message}");
            return new AdmissionOutcome { Status = AdmissionStatus.Invalid, Errors = errors, Reason = $"the task cannot be read: {e.Message}" };
        }

        if (spec is null || !errors.IsEmpty)
        {
            return new AdmissionOutcome { Status = AdmissionStatus.Invalid, Spec = spec, Errors = errors, Reason = $"invalid task: {errors}" };
        }

        if (submitter.ChargeQuota && !quotas.TryAdmit(submitter.Requester, submitter.Loopback, out var retryAfter, out var quotaReason))
        {
            return new AdmissionOutcome { Status = AdmissionStatus.QuotaExceeded, Spec = spec, Reason = quotaReason, RetryAfter = retryAfter };
        }

        spec = spec with { Requester = submitter.Requester, Owner = submitter.Owner };
        if (align is not null)
        {
            spec = align(spec);
        }

        var outcome = await engine.SubmitAsync(spec, submitter.WaitsForEnd);
        return outcome.Status switch
        {
            SubmitStatus.Refused => new AdmissionOutcome { Status = AdmissionStatus.Refused, Spec = spec, Reason = outcome.Reason },
            SubmitStatus.Conflict => new AdmissionOutcome { Status = AdmissionStatus.Conflict, Spec = spec, Reason = outcome.Reason },
            SubmitStatus.Existing => new AdmissionOutcome { Status = AdmissionStatus.Existing, Spec = spec, View = engine.ViewOf(outcome.Record!) },
            _ => new AdmissionOutcome { Status = AdmissionStatus.Accepted, Spec = spec, View = engine.ViewOf(outcome.Record!) },
        };
    }
}
