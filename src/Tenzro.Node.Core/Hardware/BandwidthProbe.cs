using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Core.Hardware;

/// <summary>How much one measurement may move and how long each direction may take.</summary>
/// <param name="MaxBytes">Bytes read at most from the download, and sent at most as the upload.</param>
/// <param name="MinBytes">A download that ends (the body is complete) before this many bytes is not a measurement: a small page says nothing about bandwidth.</param>
/// <param name="PerDirection">Time allowed for each direction, connection set-up included; what moved by then is measured.</param>
public sealed record BandwidthLimits(long MaxBytes, long MinBytes, TimeSpan PerDirection)
{
    /// <summary>100 MiB at most, 1 MiB at least, 10 s per direction.</summary>
    public static BandwidthLimits Default { get; } = new(100L * 1024 * 1024, 1024 * 1024, TimeSpan.FromSeconds(10));
}

/// <summary>A measurement that could not be made; the message says why and what to change.</summary>
public sealed class BandwidthProbeException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The target refused for now (429): a moment later it may not.</summary>
    public bool Busy { get; init; }
}

/// <summary>
/// Measures throughput against an HTTP target: a GET whose body is read (up to <see cref="BandwidthLimits.MaxBytes"/>
/// or the time allowed), then, when the target is a node's probe (it marks its answers with
/// <see cref="ProbeHeader"/>), a POST of as many incompressible bytes. Any other URL that serves a large
/// body measures the download only: the node never uploads to a server that did not offer to take it.
/// </summary>
/// <remarks>
/// Give it a client from <see cref="CreateHttpClient"/>: one that follows redirects would let a POST
/// redirected as a GET report an upload nothing received; a redirect is reported with its location instead.
/// Callers run one measurement at a time so that two do not share the link.
/// </remarks>
public sealed class BandwidthProbe(HttpClient http, TimeProvider time)
{
    /// <summary>The size of the random block that bodies are made of.</summary>
    public const int ChunkBytes = 64 * 1024;

    /// <summary>The header a node's probe puts on its GET and HEAD answers: it takes uploads at the same URL.</summary>
    public const string ProbeHeader = "X-Tenzro-Bandwidth-Probe";

    /// <summary>The wait before the one retry of an upload the probe refused as busy (429).</summary>
    public static readonly TimeSpan UploadRetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Measures the round trip, the download and, against a node's probe, the upload. Throws
    /// <see cref="BandwidthProbeException"/> when either direction cannot be measured.
    /// </summary>
    public async Task<BandwidthMeasurement> MeasureAsync(Uri target, BandwidthLimits limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(limits);
        var roundTrip = await RoundTripAsync(target, limits.PerDirection, cancellationToken);
        var download = await DownloadAsync(target, limits, cancellationToken);
        if (download.Complete && download.Bytes < Math.Min(limits.MinBytes, limits.MaxBytes))
        {
            throw new BandwidthProbeException(
                $"{target} served {download.Bytes} bytes, too few to measure bandwidth (at least {limits.MinBytes} are needed). " +
                "Point BANDWIDTH_TEST_URL at a URL that serves a large body, such as another node's /api/network/bandwidth.");
        }

        if (download.Bytes == 0)
        {
            throw new BandwidthProbeException($"no byte of the download from {target} arrived within {limits.PerDirection.TotalSeconds} s.");
        }

        (long Bytes, double? Mbps, string? Note) upload = download.IsProbe
            ? await UploadAsync(target, Math.Clamp(download.Bytes, limits.MinBytes, limits.MaxBytes), limits.PerDirection, cancellationToken)
            : (0, null, $"upload not measured: {target} is not a node's bandwidth probe, and the node uploads only to a probe");
        return new BandwidthMeasurement
        {
            Target = target.ToString(),
            State = BandwidthState.Measured,
            DownloadMbps = download.Mbps,
            DownloadBytes = download.Bytes,
            LatencyMs = Math.Round((roundTrip ?? download.Latency).TotalMilliseconds, 2),
            UploadMbps = upload.Mbps,
            UploadBytes = upload.Bytes,
            Error = upload.Note,
            MeasuredAt = Json.Timestamps.FormatPrecise(time.GetUtcNow()),
        };
    }

    /// <summary>
    /// The client a probe needs: it follows no redirect, asks for no compression and leaves the time limits
    /// to the probe (each direction has its own).
    /// </summary>
    public static HttpClient CreateHttpClient() => new(new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(10),
        AutomaticDecompression = DecompressionMethods.None,
        AllowAutoRedirect = false,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>Megabits (10^6 bits) per second, rounded to 0.01; null when no time passed.</summary>
    public static double? Mbps(long bytes, TimeSpan elapsed) =>
        elapsed > TimeSpan.Zero ? Math.Round(bytes * 8 / elapsed.TotalSeconds / 1e6, 2) : null;

    /// <summary>A fresh block of random bytes, so that no compressing hop shrinks a body made of it.</summary>
    public static byte[] RandomBlock()
    {
        var block = new byte[ChunkBytes];
        RandomNumberGenerator.Fill(block);
        return block;
    }

    /// <summary>
    /// Two HEAD requests: the first opens the connection (which the download then reuses), the second is
    /// timed as one round trip. Null when the target does not answer HEAD; the download's time to its
    /// headers stands in then.
    /// </summary>
    private async Task<TimeSpan?> RoundTripAsync(Uri target, TimeSpan limit, CancellationToken cancellationToken)
    {
        TimeSpan? roundTrip = null;
        for (var attempt = 0; attempt < 2; attempt++)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(limit);
            using var request = new HttpRequestMessage(HttpMethod.Head, target);
            var sent = time.GetTimestamp();
            try
            {
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
                if (!response.IsSuccessStatusCode)
                {
                    return null;
                }
            }
            catch (Exception e) when (e is HttpRequestException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // The download that follows reports an unreachable target with the reason.
                return null;
            }

            roundTrip = time.GetElapsedTime(sent);
        }

        return roundTrip;
    }

    private async Task<Download> DownloadAsync(Uri target, BandwidthLimits limits, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(limits.PerDirection);
        using var request = new HttpRequestMessage(HttpMethod.Get, target);
        request.Headers.CacheControl = new CacheControlHeaderValue { NoCache = true, NoStore = true };
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
        var sent = time.GetTimestamp();
        using var response = await SendAsync(request, "download", limits.PerDirection, deadline.Token, cancellationToken);
        var latency = time.GetElapsedTime(sent);
        if (!response.IsSuccessStatusCode)
        {
            throw new BandwidthProbeException($"{target} answered {Describe(response)} to the download (GET); it must answer 200 with a body.");
        }

        var buffer = new byte[ChunkBytes];
        long bytes = 0;
        var complete = false;
        var started = time.GetTimestamp();
        var elapsed = TimeSpan.Zero;
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(deadline.Token);
            while (bytes < limits.MaxBytes)
            {
                var read = await body.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, limits.MaxBytes - bytes)), deadline.Token);
                if (read == 0)
                {
                    complete = true;
                    break;
                }

                bytes += read;
                elapsed = time.GetElapsedTime(started);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The time allowed is up: what arrived by then, over the whole time waited, is the measurement.
            elapsed = time.GetElapsedTime(started);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw new BandwidthProbeException($"the download from {target} broke off after {bytes} bytes: {e.Message}", e);
        }

        return new Download(bytes, Mbps(bytes, elapsed), latency, complete, response.Headers.Contains(ProbeHeader));
    }

    /// <summary>
    /// The upload to a node's probe. A probe that says it takes no uploads (405, 501) leaves the upload
    /// unmeasured with the reason; any other failure (busy, an error, no answer) fails the measurement, so a
    /// passing problem never turns into a reported figure from the download alone.
    /// </summary>
    private async Task<(long Bytes, double? Mbps, string? Note)> UploadAsync(Uri target, long bytes, TimeSpan limit, CancellationToken cancellationToken)
    {
        try
        {
            return await UploadOnceAsync(target, bytes, limit, cancellationToken);
        }
        catch (BandwidthProbeException e) when (e.Busy)
        {
            // The probe may not have seen the download's connection close yet, and it serves one probe at a
            // time per address: one more try, a moment later.
            await Task.Delay(UploadRetryDelay, time, cancellationToken);
            return await UploadOnceAsync(target, bytes, limit, cancellationToken);
        }
    }

    private async Task<(long Bytes, double? Mbps, string? Note)> UploadOnceAsync(Uri target, long bytes, TimeSpan limit, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // The body stops at the limit; the answer then gets a few seconds more.
        deadline.CancelAfter(limit + TimeSpan.FromSeconds(5));
        using var content = new UploadContent(bytes, limit, time);
        using var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = content };
        var started = time.GetTimestamp();
        using var response = await SendAsync(request, "upload", limit, deadline.Token, cancellationToken);
        var elapsed = time.GetElapsedTime(started);
        if (response.IsSuccessStatusCode)
        {
            return (content.Written, Mbps(content.Written, elapsed), null);
        }

        if (response.StatusCode is HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotImplemented)
        {
            return (0, null, $"upload not measured: {target} answered {Describe(response)} to the upload (POST)");
        }

        var retry = response.Headers.RetryAfter?.Delta is { } wait ? $"; it asks to retry after {wait.TotalSeconds} s" : "";
        throw new BandwidthProbeException($"{target} answered {Describe(response)} to the upload (POST){retry}.")
        {
            Busy = response.StatusCode == HttpStatusCode.TooManyRequests,
        };
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, string direction, TimeSpan limit, CancellationToken deadline, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new BandwidthProbeException($"{request.RequestUri} did not answer the {direction} within {limit.TotalSeconds} s.");
        }
        catch (HttpRequestException e)
        {
            throw new BandwidthProbeException($"cannot reach {request.RequestUri} for the {direction}: {e.Message}", e);
        }

        if ((int)response.StatusCode is >= 300 and < 400)
        {
            var location = response.Headers.Location;
            response.Dispose();
            throw new BandwidthProbeException(
                $"{request.RequestUri} redirects the {direction} to {location?.ToString() ?? "another URL"}; give the final URL (the node does not follow redirects, so that each figure is of the URL named).");
        }

        return response;
    }

    private static string Describe(HttpResponseMessage response) => $"{(int)response.StatusCode} {response.ReasonPhrase}".TrimEnd();

    private sealed record Download(long Bytes, double? Mbps, TimeSpan Latency, bool Complete, bool IsProbe);

    /// <summary>Repeats one random block (incompressible) until the bytes are sent or the time is up; sent chunked, once.</summary>
    private sealed class UploadContent(long bytes, TimeSpan limit, TimeProvider time) : HttpContent
    {
        private long _written;
        private int _sent;

        public long Written => Interlocked.Read(ref _written);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _sent, 1) != 0)
            {
                // A second send (a retry or a redirect) would count the same bytes twice.
                throw new InvalidOperationException("The upload body is sent once.");
            }

            var block = RandomBlock();
            var started = time.GetTimestamp();
            while (Written < bytes && time.GetElapsedTime(started) < limit)
            {
                var size = (int)Math.Min(block.Length, bytes - Written);
                await stream.WriteAsync(block.AsMemory(0, size), cancellationToken);
                Interlocked.Add(ref _written, size);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
