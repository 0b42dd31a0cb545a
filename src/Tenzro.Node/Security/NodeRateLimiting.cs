using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Tenzro.Node.Api;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Hosting;

namespace Tenzro.Node.Security;

/// <summary>
/// The node's one rate limiter (ASP.NET Core's): submissions (tasks and model uploads) per caller, QUOTA_TASKS_PER_MINUTE
/// over a sliding minute, the caller being its API key, else its address (IPv6 by /64). Loopback callers are
/// exempt unless QUOTA_LOOPBACK is true (the throughput benchmarks run on loopback). A caller idle for a while
/// is forgotten by the limiter itself.
/// </summary>
internal static class NodeRateLimiting
{
    /// <summary>The policy of the endpoints that take work.</summary>
    public const string Submissions = "submissions";

    public static IServiceCollection AddNodeRateLimiting(this IServiceCollection services, QuotaOptions quotas)
    {
        services.AddRateLimiter(options =>
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.AddPolicy(Submissions, context => Caller.IsLoopback(context) && !quotas.ApplyToLoopback
                ? RateLimitPartition.GetNoLimiter("loopback")
                : RateLimitPartition.GetSlidingWindowLimiter(Caller.Key(context), _ => new SlidingWindowRateLimiterOptions
                {
                    PermitLimit = quotas.TasksPerMinute,
                    Window = TimeSpan.FromMinutes(1),
                    SegmentsPerWindow = 12,
                    QueueLimit = 0,
                }));
            options.OnRejected = async (rejected, _) =>
            {
                var context = rejected.HttpContext;
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(5);
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                var caller = Caller.Key(context);
                var reason = $"{caller} sent more than QUOTA_TASKS_PER_MINUTE ({quotas.TasksPerMinute}) submissions in the last minute";
                context.RequestServices.GetRequiredService<SecurityEvents>().QuotaExceeded(caller, reason);
                context.Response.Headers.RetryAfter = seconds;
                await HttpSetup.WriteProblemAsync(context, new ProblemDetails
                {
                    Status = 429,
                    Title = "Quota exceeded",
                    Detail = $"{reason}. Retry after {seconds} s.",
                });
            };
        });
        return services;
    }
}
