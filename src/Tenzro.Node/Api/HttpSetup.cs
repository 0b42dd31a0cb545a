using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Tenzro.Node.Hosting;
using Tenzro.Node.Security;

namespace Tenzro.Node.Api;

/// <summary>
/// Cross-cutting HTTP behaviour: every error, including unknown routes, wrong methods, oversized and
/// malformed bodies, is RFC 7807 <c>application/problem+json</c> with a message a person can act on.
/// </summary>
internal static partial class HttpSetup
{
    public static IServiceCollection AddNodeHttp(this IServiceCollection services)
    {
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            var status = context.ProblemDetails.Status ?? context.HttpContext.Response.StatusCode;
            context.ProblemDetails.Detail ??= status switch
            {
                StatusCodes.Status404NotFound => $"No endpoint at {context.HttpContext.Request.Path}. The API is described at /openapi/v1.json.",
                StatusCodes.Status405MethodNotAllowed => $"{context.HttpContext.Request.Method} is not allowed on {context.HttpContext.Request.Path}; see /openapi/v1.json for the methods it takes.",
                StatusCodes.Status415UnsupportedMediaType => "Send the body as application/json.",
                _ => null,
            };
        });
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.AddOpenApi();
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
            o.SerializerOptions.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never;

            // The wire contracts (docs/ARCHITECTURE.md "Wire contracts") first; free-form answers fall through to reflection.
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJson.Default);
            o.SerializerOptions.TypeInfoResolverChain.Insert(1, Core.Json.CoreJson.Default);
        });
        return services;
    }

    public static WebApplication UseNodeHttp(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseNodeSecurity(static files =>
        {
            files.UseDefaultFiles();
            files.UseStaticFiles();
        });
        return app;
    }

    /// <summary>Writes <paramref name="problem"/> as the response, for middleware that answers before any endpoint.</summary>
    public static async Task WriteProblemAsync(HttpContext context, ProblemDetails problem)
    {
        context.Response.StatusCode = problem.Status ?? 500;
        var problems = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        if (!await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem }))
        {
            await context.Response.WriteAsJsonAsync(problem, (JsonSerializerOptions?)null, "application/problem+json");
        }
    }

    /// <summary>Maps the OpenAPI document.</summary>
    public static WebApplication MapNodeApi(this WebApplication app)
    {
        app.MapOpenApi();
        return app;
    }

    /// <summary>A problem+json result with an actionable detail and optional field errors.</summary>
    public static ProblemHttpResult Problem(int status, string title, string detail, IDictionary<string, string[]>? errors = null, string? retryAfterSeconds = null, HttpContext? context = null)
    {
        if (retryAfterSeconds is not null && context is not null)
        {
            context.Response.Headers.RetryAfter = retryAfterSeconds;
        }

        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        if (errors is not null)
        {
            problem.Extensions["errors"] = errors;
        }

        return TypedResults.Problem(problem);
    }

    /// <summary>Retry-After on a 503 for a full disk: space comes back when the retention sweep or the operator frees it.</summary>
    private const string DiskFullRetryAfterSeconds = "30";

    private sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
        {
            var (status, title, detail) = exception switch
            {
                BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
                    (413, "Request body too large", $"The body is larger than MAX_REQUEST_SIZE ({context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize} bytes). Send less, or raise MAX_REQUEST_SIZE."),
                BadHttpRequestException bad => (bad.StatusCode, "Bad request", bad.Message),
                JsonException json => (400, "Malformed JSON", $"The body is not valid JSON: {json.Message}"),
                System.Text.DecoderFallbackException => (400, "Malformed text", "The body is not valid UTF-8; send the text encoded as UTF-8."),
                _ when Core.Storage.DiskFull.Is(exception) => (503, "Storage full", $"The node's disk is full, so it cannot take this now; reads keep working. Retry after {DiskFullRetryAfterSeconds} s; the operator frees space in DATA_DIR."),
                _ => (500, "Internal error", "The node failed to handle the request; the error is in its log. Retry, and report it if it persists."),
            };

            if (status == 500)
            {
                LogUnhandled(logger, exception, context.Request.Method, context.Request.Path);
            }

            context.Response.StatusCode = status;
            if (status == 503)
            {
                context.Response.Headers.RetryAfter = DiskFullRetryAfterSeconds;
            }

            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                Exception = exception,
                ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
            });
        }

        [LoggerMessage(EventId = LogEvents.UnhandledRequestError, Level = LogLevel.Error, Message = "Unhandled error in {Method} {Path}")]
        private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path);
    }
}
