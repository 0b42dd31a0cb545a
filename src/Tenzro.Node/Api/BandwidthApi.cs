using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;

using Tenzro.Node.Security;

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

    /// <summary>How long one probe request may take; then the connection is closed.</summary>
    public static readonly TimeSpan MaxProbeTime = TimeSpan.FromSeconds(15);

    /// <summary>Below this rate (after a 2 s grace) Kestrel drops a probe: a slow reader must not hold a slot.</summary>
    private static readonly MinDataRate ProbeMinRate = new(bytesPerSecond: 16 * 1024, gracePeriod: TimeSpan.FromSeconds(2));

    public static WebApplication MapBandwidthApi(this WebApplication app)
    {
        var group = app.MapGroup("/api/network/bandwidth").WithTags("Network");
        group.MapMethods("/", [HttpMethods.Get, HttpMethods.Head], ServeAsync)
            .AllowAnonymous()
            .WithName("ServeBandwidthProbe")
            .WithSummary("Serve 'bytes' random bytes (default 10 MiB, at most 100 MiB) for another node to measure its download against; HEAD answers the headers only (a round trip).");
        group.MapPost("/", ReceiveAsync)
            .AllowAnonymous()
            .WithName("ReceiveBandwidthProbe")
            .WithSummary("Read a body of up to 100 MiB (any content type) for another node to measure its upload against; answers the bytes and the time they took.");
        group.MapPost("/measure", MeasureAsync)
            .RequireAuthorization(NodePolicies.Admin)
            .WithName("MeasureBandwidth")
            .WithSummary("Measure this node's bandwidth now against BANDWIDTH_TEST_URL or 'target' (admin); answers the measurement and what node_status reports.");
        return app;
    }

    private static async Task<IResult> ServeAsync(HttpContext context, BandwidthProbeGate gate, NetworkOptions network, string? bytes, CancellationToken cancellationToken)
    {
        if (!network.BandwidthProbeEnabled)
        {
            return Disabled();
        }

        var count = DefaultBytes;
        if (bytes is not null && (!long.TryParse(bytes, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count > MaxBytes))
        {
            return HttpSetup.Problem(400, "Invalid bytes", $"'bytes' is '{bytes}'; give a whole number from 0 to {MaxBytes} (100 MiB), or leave it out for {DefaultBytes} (10 MiB).");
        }

        context.Response.Headers[BandwidthProbe.ProbeHeader] = "1";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.ContentType = "application/octet-stream";
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

        // Kestrel takes a per-request minimum rate on HTTP/1.1 only (HTTP/2 throws); there the 15 s cap stands alone.
        if (HttpProtocol.IsHttp11(context.Request.Protocol) && context.Features.Get<IHttpMinResponseDataRateFeature>() is { } minRate)
        {
            minRate.MinDataRate = ProbeMinRate;
        }

        context.Response.ContentLength = count;
        var block = BandwidthProbe.RandomBlock();
        using var timeLimit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeLimit.CancelAfter(MaxProbeTime);
        try
        {
            for (var left = count; left > 0;)
            {
                var size = (int)Math.Min(block.Length, left);
                await context.Response.Body.WriteAsync(block.AsMemory(0, size), timeLimit.Token);
                left -= size;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException && (timeLimit.IsCancellationRequested || context.RequestAborted.IsCancellationRequested))
        {
            // The measuring side stops reading once it has enough or its time is up, which is how a probe
            // ends; past MaxProbeTime the node ends it. The body is short of its length either way: close.
            context.Abort();
        }

        return Results.Empty;
    }

    private static async Task<IResult> ReceiveAsync(HttpContext context, BandwidthProbeGate gate, NetworkOptions network, CancellationToken cancellationToken)
    {
        if (!network.BandwidthProbeEnabled)
        {
            return Disabled();
        }

        if (context.Request.ContentLength > MaxBytes)
        {
            return TooLarge();
        }

        using var lease = gate.Acquire(context);
        if (!lease.IsAcquired)
        {
            return Refused(context, lease);
        }

        // The probe's own cap replaces MAX_REQUEST_SIZE, which is sized for tasks and models.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBytes;
        }

        if (HttpProtocol.IsHttp11(context.Request.Protocol) && context.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } minRate)
        {
            minRate.MinDataRate = ProbeMinRate;
        }

        var buffer = new byte[BandwidthProbe.ChunkBytes];
        long received = 0;
        var started = Stopwatch.GetTimestamp();
        using var timeLimit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeLimit.CancelAfter(MaxProbeTime);
        try
        {
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, timeLimit.Token)) > 0)
            {
                received += read;
            }
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge();
        }
        catch (OperationCanceledException) when (timeLimit.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            return HttpSetup.Problem(408, "Probe took too long", $"A bandwidth probe upload may take {MaxProbeTime.TotalSeconds} s; {received} bytes arrived by then. Send less.");
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
        if (measurement.State == BandwidthState.Failed)
        {
            return HttpSetup.Problem(502, "Bandwidth measurement failed", measurement.Error ?? "The measurement failed.");
        }

        var network = profiler.Current.Network;
        return TypedResults.Ok(new BandwidthAnswer(measurement, url == monitor.ConfiguredTarget, network.BandwidthMbps, network.BandwidthSource));
    }

    private static IResult Disabled() =>
        HttpSetup.Problem(404, "Bandwidth probe disabled", "This node does not serve the bandwidth probe (BANDWIDTH_PROBE_ENABLED=false); measure against another node.");

    private static IResult TooLarge() =>
        HttpSetup.Problem(413, "Probe body too large", $"A bandwidth probe takes at most {MaxBytes} bytes (100 MiB); send less.");

    private static IResult Refused(HttpContext context, RateLimitLease lease)
    {
        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(5);
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return HttpSetup.Problem(429, "Bandwidth probe busy",
            $"This node serves {BandwidthProbeGate.Concurrent} bandwidth probes at a time, one at a time and {BandwidthProbeGate.PerRemotePerHour} per hour to each remote address; retry after {seconds} s.",
            retryAfterSeconds: seconds, context: context);
    }
}

/// <summary>
/// The answer of a measurement made on request: its figures, whether they are what the node reports (only
/// a measurement of BANDWIDTH_TEST_URL is), and what node_status reports now.
/// </summary>
internal sealed record BandwidthAnswer(BandwidthMeasurement Measurement, bool Reported, double? BandwidthMbps, string? BandwidthSource);

/// <summary>
/// Bounds what the probe may cost this node: <see cref="Concurrent"/> probes at once (a queue would only
/// skew the measurements), and per remote address (an IPv6 address counts by its /64) one at a time and
/// <see cref="PerRemotePerHour"/> an hour (a measurement spends two: its GET and its POST); loopback callers
/// share only the first bound, unless QUOTA_LOOPBACK is set.
/// </summary>
internal sealed class BandwidthProbeGate : IDisposable
{
    public const int Concurrent = 2;
    public const int PerRemotePerHour = 24;

    private readonly PartitionedRateLimiter<HttpContext>[] _parts;
    private readonly PartitionedRateLimiter<HttpContext> _limiter;

    public BandwidthProbeGate(QuotaOptions quotas)
    {
        ArgumentNullException.ThrowIfNull(quotas);
        var applyToLoopback = quotas.ApplyToLoopback;
        string? Requester(HttpContext context) =>
            context.Connection.RemoteIpAddress is not { } remote || (IPAddress.IsLoopback(remote) && !applyToLoopback) ? null : Caller.AddressKey(remote);
        _parts =
        [
            PartitionedRateLimiter.Create<HttpContext, string>(_ => RateLimitPartition.GetConcurrencyLimiter(
                "all", _ => new ConcurrencyLimiterOptions { PermitLimit = Concurrent, QueueLimit = 0 })),
            PartitionedRateLimiter.Create<HttpContext, string>(context => Requester(context) is { } key
                ? RateLimitPartition.GetConcurrencyLimiter(key, _ => new ConcurrencyLimiterOptions { PermitLimit = 1, QueueLimit = 0 })
                : RateLimitPartition.GetNoLimiter("loopback")),
            PartitionedRateLimiter.Create<HttpContext, string>(context => Requester(context) is { } key
                ? RateLimitPartition.GetSlidingWindowLimiter(key, _ => new SlidingWindowRateLimiterOptions
                {
                    PermitLimit = PerRemotePerHour,
                    Window = TimeSpan.FromHours(1),
                    SegmentsPerWindow = 12,
                    QueueLimit = 0,
                })
                : RateLimitPartition.GetNoLimiter("loopback")),
        ];
        _limiter = PartitionedRateLimiter.CreateChained(_parts);
    }

    /// <summary>A lease to dispose when the probe ends; not acquired when a bound is reached.</summary>
    public RateLimitLease Acquire(HttpContext context) => _limiter.AttemptAcquire(context);

    public void Dispose()
    {
        // The chain does not dispose what it chains (each part holds a timer).
        _limiter.Dispose();
        foreach (var part in _parts)
        {
            part.Dispose();
        }
    }
}
