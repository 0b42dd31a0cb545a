using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;

namespace Tenzro.Node.Api;

/// <summary>
/// The bandwidth probe that other nodes (and <c>BANDWIDTH_TEST_URL</c>) measure against:
/// <c>GET /api/network/bandwidth?bytes=N</c> serves N incompressible bytes, <c>POST</c> takes a body and
/// says how much arrived; and the loopback-only <c>POST /api/network/bandwidth/measure</c> that makes this
/// node measure its own bandwidth now.
/// </summary>
internal static class BandwidthApi
{
    /// <summary>What a GET serves without <c>bytes</c>: 10 MiB.</summary>
    public const long DefaultBytes = 10L * 1024 * 1024;

    /// <summary>The most one probe request moves either way: 100 MiB.</summary>
    public const long MaxBytes = 100L * 1024 * 1024;

    public static WebApplication MapBandwidthApi(this WebApplication app)
    {
        var group = app.MapGroup("/api/network/bandwidth").WithTags("Network");
        group.MapMethods("/", [HttpMethods.Get, HttpMethods.Head], ServeAsync)
            .WithName("ServeBandwidthProbe")
            .WithSummary("Serve 'bytes' random bytes (default 10 MiB, at most 100 MiB) for another node to measure its download against; HEAD answers the headers only (a round trip).");
        group.MapPost("/", ReceiveAsync)
            .WithName("ReceiveBandwidthProbe")
            .WithSummary("Read a body of up to 100 MiB (any content type) for another node to measure its upload against; answers the bytes and the time they took.");
        group.MapPost("/measure", MeasureAsync)
            .WithName("MeasureBandwidth")
            .WithSummary("Measure this node's bandwidth now against BANDWIDTH_TEST_URL or 'target' (loopback callers only); answers the profile's network section.");
        return app;
    }

    private static async Task<IResult> ServeAsync(HttpContext context, BandwidthProbeGate gate, string? bytes, CancellationToken cancellationToken)
    {
        var count = DefaultBytes;
        if (bytes is not null && (!long.TryParse(bytes, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count > MaxBytes))
        {
            return HttpSetup.Problem(400, "Invalid bytes", $"'bytes' is '{bytes}'; give a whole number from 0 to {MaxBytes} (100 MiB), or leave it out for {DefaultBytes} (10 MiB).");
        }

        context.Response.ContentType = "application/octet-stream";
        context.Response.Headers.CacheControl = "no-store";
        if (HttpMethods.IsHead(context.Request.Method))
        {
            context.Response.ContentLength = count;
            return Results.Empty;
        }

        using var lease = gate.Acquire(context);
        if (!lease.IsAcquired)
        {
            return Refused(context, lease);
        }

        context.Response.ContentLength = count;
        var block = BandwidthProbe.RandomBlock();
        var body = context.Response.Body;
        try
        {
            for (var left = count; left > 0;)
            {
                var size = (int)Math.Min(block.Length, left);
                await body.WriteAsync(block.AsMemory(0, size), cancellationToken);
                left -= size;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException && context.RequestAborted.IsCancellationRequested)
        {
            // The measuring side stops reading once it has enough or its time is up: that is how a probe ends.
        }

        return Results.Empty;
    }

    private static async Task<IResult> ReceiveAsync(HttpContext context, BandwidthProbeGate gate, CancellationToken cancellationToken)
    {
        using var lease = gate.Acquire(context);
        if (!lease.IsAcquired)
        {
            return Refused(context, lease);
        }

        if (context.Request.ContentLength > MaxBytes)
        {
            return HttpSetup.Problem(413, "Probe body too large", $"A bandwidth probe takes at most {MaxBytes} bytes (100 MiB); send less.");
        }

        // The probe's own cap replaces MAX_REQUEST_SIZE, which is sized for tasks and models.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBytes;
        }

        var buffer = new byte[BandwidthProbe.ChunkBytes];
        long received = 0;
        var started = Stopwatch.GetTimestamp();
        try
        {
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, cancellationToken)) > 0)
            {
                received += read;
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return HttpSetup.Problem(413, "Probe body too large", $"A bandwidth probe takes at most {MaxBytes} bytes (100 MiB); send less.");
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        return TypedResults.Json(new JsonObject
        {
            ["bytes"] = received,
            ["seconds"] = Math.Round(elapsed.TotalSeconds, 6),
            ["mbps"] = BandwidthProbe.Mbps(received, elapsed),
        });
    }

    private static async Task<IResult> MeasureAsync(HttpContext context, BandwidthMonitor monitor, HardwareProfiler profiler, string? target, CancellationToken cancellationToken)
    {
        if (context.Connection.RemoteIpAddress is not { } remote || !IPAddress.IsLoopback(remote))
        {
            return HttpSetup.Problem(403, "Loopback only", "Measuring bandwidth moves up to 200 MiB: call it from the node's own machine (127.0.0.1).");
        }

        Uri? url = monitor.ConfiguredTarget;
        if (target is not null && (!Uri.TryCreate(target, UriKind.Absolute, out url) || url.Scheme is not ("http" or "https")))
        {
            return HttpSetup.Problem(400, "Invalid target", $"'target' is '{target}'; give an http:// or https:// URL, such as another node's http://host:8080/api/network/bandwidth.");
        }

        if (url is null)
        {
            return HttpSetup.Problem(409, "No bandwidth test target",
                "BANDWIDTH_TEST_URL is not set: set it (for example to another node's http://host:8080/api/network/bandwidth) or pass ?target=<url>.");
        }

        var measurement = await monitor.MeasureAsync(url, cancellationToken);
        return measurement.State == BandwidthState.Failed
            ? HttpSetup.Problem(502, "Bandwidth measurement failed", measurement.Error ?? "The measurement failed.")
            : TypedResults.Ok(new BandwidthAnswer(measurement, profiler.Current.Network.BandwidthMbps, profiler.Current.Network.BandwidthSource));
    }

    private static IResult Refused(HttpContext context, RateLimitLease lease)
    {
        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(5);
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return HttpSetup.Problem(429, "Bandwidth probe busy",
            $"This node serves {BandwidthProbeGate.Concurrent} bandwidth probes at a time and {BandwidthProbeGate.PerRemotePerHour} per hour to each remote address; retry after {seconds} s.",
            retryAfterSeconds: seconds, context: context);
    }
}

/// <summary>The answer of a measurement made on request: its figures, and what the node now reports (BANDWIDTH_MBPS still wins when set).</summary>
internal sealed record BandwidthAnswer(BandwidthMeasurement Measurement, double? BandwidthMbps, string? BandwidthSource);

/// <summary>
/// Bounds what the probe may cost this node: <see cref="Concurrent"/> probes at once (a queue would only
/// skew the measurements), and <see cref="PerRemotePerHour"/> per remote address per hour; loopback callers
/// only share the concurrency bound unless QUOTA_LOOPBACK is set.
/// </summary>
internal sealed class BandwidthProbeGate : IDisposable
{
    public const int Concurrent = 2;
    public const int PerRemotePerHour = 12;

    private readonly PartitionedRateLimiter<HttpContext> _limiter;

    public BandwidthProbeGate(QuotaOptions quotas)
    {
        ArgumentNullException.ThrowIfNull(quotas);
        var applyToLoopback = quotas.ApplyToLoopback;
        _limiter = PartitionedRateLimiter.CreateChained(
            PartitionedRateLimiter.Create<HttpContext, string>(_ => RateLimitPartition.GetConcurrencyLimiter(
                "all", _ => new ConcurrencyLimiterOptions { PermitLimit = Concurrent, QueueLimit = 0 })),
            PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                var remote = context.Connection.RemoteIpAddress;
                return remote is null || (IPAddress.IsLoopback(remote) && !applyToLoopback)
                    ? RateLimitPartition.GetNoLimiter("loopback")
                    : RateLimitPartition.GetSlidingWindowLimiter(remote.ToString(), _ => new SlidingWindowRateLimiterOptions
                    {
                        PermitLimit = PerRemotePerHour,
                        Window = TimeSpan.FromHours(1),
                        SegmentsPerWindow = 12,
                        QueueLimit = 0,
                    });
            }));
    }

    /// <summary>A lease to dispose when the probe ends; not acquired when a bound is reached.</summary>
    public RateLimitLease Acquire(HttpContext context) => _limiter.AttemptAcquire(context);

    public void Dispose() => _limiter.Dispose();
}
