using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;

using Tenzro.Node.Security;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Api;

/// <summary>The task API: submit, status, result, list, cancel, events, and drain/resume of the node.</summary>
internal static class TasksApi
{
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(60);

    public static WebApplication MapTasksApi(this WebApplication app)
    {
        var tasks = app.MapGroup("/api/tasks").WithTags("Tasks");
        tasks.MapPost("/execute", SubmitAsync).RequireAuthorization(NodePolicies.Submitter).RequireRateLimiting(NodeRateLimiting.Submissions).WithName("SubmitTask").WithSummary("Submit a task; 202 once it is durable.")
            .Accepts<JsonObject>("application/json");
        tasks.MapGet("/{taskId}", GetStatus).WithName("GetTask").WithSummary("Task status, with why it waits.");
        tasks.MapGet("/{taskId}/result", GetResult).RequireAuthorization(NodePolicies.Submitter).WithName("GetTaskResult").WithSummary("200 result, 202 not final, 404 unknown, 410 expired.");
        tasks.MapGet("/", List).WithName("ListTasks").WithSummary("Tasks, newest first, filtered by state and type, paged by cursor.");
        tasks.MapDelete("/{taskId}", CancelAsync).RequireAuthorization(NodePolicies.Submitter).WithName("CancelTask").WithSummary("Cancel a queued or running task.");
        tasks.MapGet("/{taskId}/events", Events).RequireAuthorization(NodePolicies.Submitter).WithName("TaskEvents").WithSummary("State changes and progress as Server-Sent Events.");

        var node = app.MapGroup("/api/node").WithTags("Node").RequireAuthorization(NodePolicies.Admin);
        node.MapPost("/drain", (IntakeState intake, TaskEngine engine) =>
        {
            intake.SetDraining(true);
            return TypedResults.Ok(new DrainBody(true, engine.RunningCount, engine.QueuedCount));
        }).WithName("Drain").WithSummary("Stop taking new tasks; running ones finish.");
        node.MapPost("/resume", (IntakeState intake, TaskEngine engine) =>
        {
            intake.SetDraining(false);
            engine.Pump();
            return TypedResults.Ok(new DrainBody(false, engine.RunningCount, engine.QueuedCount));
        }).WithName("Resume").WithSummary("Take tasks again after a drain.");

        app.MapGet("/api/blobs/{sha256}", IResult (string sha256, HttpContext context, BlobStore blobs, TaskEngine engine) =>
        {
            var hash = sha256.ToLowerInvariant();
            var stream = blobs.Open(hash);
            if (stream is null)
            {
                return HttpSetup.Problem(404, "Blob not found", $"No blob with sha256 {sha256} is stored here. Store it with a 'store' task first.");
            }

            if (context.User.ReadableOwners() is { } owners && !engine.OwnsBlob(owners, hash))
            {
                stream.Dispose();
                return HttpSetup.Problem(403, "Not your blob", $"Blob {sha256} was not stored by a task of this caller; only the owner of the task that stored it, and admin, may read it.");
            }

            return TypedResults.Stream(stream, "application/octet-stream");
        }).RequireAuthorization(NodePolicies.Submitter).WithTags("Blobs").WithName("GetBlob").WithSummary("Read a stored blob by its sha256.");
        return app;
    }

    private static async Task<IResult> SubmitAsync(HttpContext context, TaskAdmission admission, TaskEngine engine, Hosting.SecurityEvents security, TimeProvider time, IHostApplicationLifetime lifetime, [FromQuery] string? wait)
    {
        var contentType = context.Request.ContentType;
        if (contentType is not null && !contentType.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            return HttpSetup.Problem(415, "Unsupported media type", $"The body was sent as '{contentType}'; send the task as JSON with the header 'content-type: application/json'.");
        }

        TimeSpan? waitFor = null;
        if (wait is not null)
        {
            if (!TryParseDuration(wait, out var parsed) || parsed < TimeSpan.Zero || parsed > MaxWait)
            {
                return HttpSetup.Problem(400, "Bad wait", $"wait='{wait}' is not a duration from 0 to {MaxWait.TotalSeconds}s; write e.g. wait=5s or wait=500ms.");
            }

            waitFor = parsed;
        }

        var (node, malformed) = await JsonBody.ReadAsync(context, """one task object, e.g. {"type":"store","data":{"content":"hello"}}""");
        if (malformed is not null)
        {
            return malformed;
        }

        if (node is not JsonObject body)
        {
            return HttpSetup.Problem(400, "Not a task object", "The body must be one JSON object with at least a 'type'; see docs/TASKS.md.");
        }

        var requester = Caller.Key(context);
        var submitter = new TaskSubmitter(TaskOrigins.Api, requester, context.User.OwnerOf() ?? TaskOwners.AnonymousLoopback, Caller.IsLoopback(context), ChargeQuota: true, WaitsForEnd: waitFor > TimeSpan.Zero);
        var outcome = await admission.AdmitAsync(body, submitter);
        switch (outcome.Status)
        {
            case AdmissionStatus.Invalid:
                return HttpSetup.Problem(outcome.Malformed ? 400 : 422, "Invalid task", $"The task has {outcome.Errors!.ToDictionary().Count} invalid field(s): {outcome.Errors}", outcome.Errors.ToDictionary());
            case AdmissionStatus.QuotaExceeded:
                security.QuotaExceeded(requester, outcome.Reason!);
                var seconds = Math.Max(1, (int)Math.Ceiling(outcome.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                return HttpSetup.Problem(429, "Quota exceeded", $"{outcome.Reason}. Retry after {seconds} s.", retryAfterSeconds: seconds, context: context);
            case AdmissionStatus.Refused:
                return HttpSetup.Problem(503, "Not taking tasks", $"The node is not taking tasks now: {outcome.Reason}. Retry later.", retryAfterSeconds: "5", context: context);
            case AdmissionStatus.Conflict:
                return HttpSetup.Problem(409, "Task id in use", $"A task with taskId '{outcome.TaskId}' exists with different content. Use another taskId, or resubmit the same content to get the existing task.");
        }

        var spec = outcome.Spec!;
        var location = $"/api/tasks/{Uri.EscapeDataString(spec.TaskId)}";
        if (waitFor is { } delay && delay > TimeSpan.Zero)
        {
            // The wait ends early when the node stops (the answer is then the 202 below), never holding up shutdown.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
            TaskRecord? record;
            try
            {
                // A task that ended before its submission was written comes back ended (written with its end).
                record = outcome.View is { Record.State: var state } view && state.IsFinal() ? view.Record : await engine.WaitAsync(spec.TaskId, delay, stop.Token);
            }
            catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
            {
                record = null;
            }

            if (record is not null && record.State.IsFinal() && context.User.MayReadTaskOf(record.Spec.Owner))
            {
                context.Response.Headers.Location = location;
                return Expired(record, time) ?? TypedResults.Ok(TaskResultBody.Of(record));
            }
        }

        var response = new TaskSubmittedBody(spec.TaskId, outcome.View!.State.ToWire(), location);
        if (outcome.Status == AdmissionStatus.Existing)
        {
            return TypedResults.Ok(response);
        }

        context.Response.Headers.Location = location;
        return TypedResults.Json(response, CoreJson.Default.TaskSubmittedBody, statusCode: 202);
    }

    private static IResult GetStatus(string taskId, TaskEngine engine)
    {
        var view = engine.View(taskId);
        return view is null ? NotFound(taskId) : TypedResults.Ok(StatusBody(view, engine.SplitRunner));
    }

    private static IResult GetResult(string taskId, HttpContext context, TaskEngine engine, TimeProvider time)
    {
        var view = engine.View(taskId);
        if (view is null)
        {
            return NotFound(taskId);
        }

        if (NotOwner(context, view.Record) is { } refusal)
        {
            return refusal;
        }

        if (!view.State.IsFinal())
        {
            return TypedResults.Json(new TaskPendingBody(taskId, view.State.ToWire(), view.Progress), CoreJson.Default.TaskPendingBody, statusCode: 202);
        }

        return Expired(view.Record, time) ?? TypedResults.Ok(TaskResultBody.Of(view.Record));
    }

    /// <summary>The 410 of a final task whose result is past RESULT_RETENTION_PERIOD; null while it is kept.</summary>
    private static IResult? Expired(TaskRecord record, TimeProvider time) =>
        record.ExpiresAt is { } expires && expires < time.GetUtcNow()
            ? HttpSetup.Problem(410, "Result expired", $"The result of task '{record.Spec.TaskId}' was kept until {Timestamps.FormatPrecise(expires)} (RESULT_RETENTION_PERIOD) and has been deleted. Resubmit the task with another taskId to compute it again.")
            : null;

    private static IResult List(TaskEngine engine, [FromQuery] string? state, [FromQuery] string? type, [FromQuery] int? limit, [FromQuery] string? cursor)
    {
        TaskState? filter = null;
        if (state is not null)
        {
            if (!TaskStates.TryParse(state, out var parsed))
            {
                return HttpSetup.Problem(400, "Bad state filter", $"state='{state}' is not a task state; use pending, queued, running, completed, failed, cancelled or timed_out.");
            }

            filter = parsed;
        }

        var size = Math.Clamp(limit ?? 50, 1, 500);
        var (items, nextCursor) = engine.List(filter, type, size, cursor);
        return TypedResults.Ok(new TaskListBody([.. items.Select(v => StatusBody(v, engine.SplitRunner))], nextCursor));
    }

    private static async Task<IResult> CancelAsync(string taskId, HttpContext context, TaskEngine engine)
    {
        var record = engine.Get(taskId);
        if (record is null)
        {
            return NotFound(taskId);
        }

        if (NotOwner(context, record) is { } refusal)
        {
            return refusal;
        }

        if (record.State.IsFinal() || !await engine.CancelAsync(taskId))
        {
            return HttpSetup.Problem(409, "Task already ended", $"Task '{taskId}' is {record.State.ToWire()}; only queued or running tasks can be cancelled.");
        }

        return TypedResults.Json(new TaskSubmittedBody(taskId, "cancelling"), CoreJson.Default.TaskSubmittedBody, statusCode: 202);
    }

    private static IResult Events(string taskId, HttpContext context, TaskEngine engine, IHostApplicationLifetime lifetime, CancellationToken cancellationToken)
    {
        var view = engine.View(taskId);
        return view is null ? NotFound(taskId) : (IResult?)NotOwner(context, view.Record) ?? TypedResults.ServerSentEvents(Stream(taskId, view, engine, lifetime.ApplicationStopping, cancellationToken));
    }

    /// <summary>The task's events until it is final, the client leaves, or the node stops (an open stream must not hold up shutdown).</summary>
    private static async IAsyncEnumerable<SseItem<object>> Stream(string taskId, TaskView first, TaskEngine engine, CancellationToken stopping, [EnumeratorCancellation] CancellationToken requestAborted)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(stopping, requestAborted);
        var cancellationToken = stop.Token;
        using var subscription = engine.Events.Subscribe(taskId);
        var current = engine.View(taskId) ?? first;
        yield return new SseItem<object>(StatusBody(current, engine.SplitRunner), "state");
        if (current.State.IsFinal())
        {
            yield break;
        }

        while (await WaitToReadAsync(subscription.Reader, cancellationToken))
        {
            while (subscription.Reader.TryRead(out var e))
            {
                if (e.Kind == "progress")
                {
                    yield return new SseItem<object>(new TaskProgressEvent(taskId, e.Progress), "progress");
                    continue;
                }

                var latest = engine.View(taskId);
                if (latest is null)
                {
                    yield break;
                }

                yield return new SseItem<object>(StatusBody(latest, engine.SplitRunner), "state");
                if (latest.State.IsFinal())
                {
                    yield break;
                }
            }
        }
    }

    /// <summary>Whether more events may come; false once the client left or the node stops (the stream then just ends).</summary>
    private static async Task<bool> WaitToReadAsync<T>(System.Threading.Channels.ChannelReader<T> reader, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.WaitToReadAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>The status object of CONTRACTS.md, with a split task's <c>split</c> and <c>parts</c> (CONTRACTS "Split tasks").</summary>
    public static TaskStatusBody StatusBody(TaskView view, ISplitRunner? splits = null) => TaskStatusBody.Of(view, splits?.Describe(view.Record));

    /// <summary>The 403 for a caller that may not see the task's data (another submitter's task); null when it may.</summary>
    private static ProblemHttpResult? NotOwner(HttpContext context, TaskRecord record) =>
        context.User.MayReadTaskOf(record.Spec.Owner)
            ? null
            : HttpSetup.Problem(403, "Not your task", $"Task '{record.TaskId}' belongs to another caller; a submitter sees the results and events of its own tasks and cancels only those. Ask the node's admin.");

    private static ProblemHttpResult NotFound(string taskId) =>
        HttpSetup.Problem(404, "Task not found", $"No task '{taskId}' is known to this node. Check the id, or list tasks with GET /api/tasks.");

    /// <summary>Parses "5s", "500ms", "2m" or a bare number of seconds.</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = default;
        text = text.Trim().ToLowerInvariant();
        var (number, scale) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.Ordinal) => (text[..^2], 0.001),
            _ when text.EndsWith('s') => (text[..^1], 1.0),
            _ when text.EndsWith('m') => (text[..^1], 60.0),
            _ => (text, 1.0),
        };
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || double.IsNaN(value))
        {
            return false;
        }

        duration = TimeSpan.FromSeconds(value * scale);
        return true;
    }
}
