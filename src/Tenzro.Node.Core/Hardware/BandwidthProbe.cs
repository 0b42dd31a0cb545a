using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace Tenzro.Node.Core.Hardware;

/// <summary>How much one measurement may move and how long each direction may take.</summary>
/// <param name="MaxBytes">Bytes read at most from the download, and sent at most as the upload.</param>
/// <param name="MinBytes">A download shorter than this is not a measurement (a small page says nothing about bandwidth).</param>
/// <param name="PerDirection">Time allowed for each direction, connection set-up included; what moved by then is measured.</param>
public sealed record BandwidthLimits(long MaxBytes, long MinBytes, TimeSpan PerDirection)
{
    /// <summary>100 MiB at most, 1 MiB at least, 10 s per direction.</summary>
    public static BandwidthLimits Default { get; } = new(100L * 1024 * 1024, 1024 * 1024, TimeSpan.FromSeconds(10));
}

/// <summary>A measurement that could not be made; the message says why and what to change.</summary>
public sealed class BandwidthProbeException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Measures throughput against an HTTP target: a GET whose body is read (up to <see cref="BandwidthLimits.MaxBytes"/>
/// or the time allowed), then a POST of as many incompressible bytes. Another node's
/// <c>/api/network/bandwidth</c> serves both; any URL that serves a large file measures the download, and a
/// target that refuses the POST leaves the upload unmeasured with the reason.
/// </summary>
/// <remarks>Thread-safe if the <see cref="HttpClient"/> is; callers run one measurement at a time so that two do not share the link.</remarks>
public sealed class BandwidthProbe(HttpClient http, TimeProvider time)
{
    /// <summary>The size of the random block that bodies are made of.</summary>
    public const int ChunkBytes = 64 * 1024;

    /// <summary>Measures both directions; throws <see cref="BandwidthProbeException"/> when the download cannot be measured.</summary>
    public async Task<BandwidthMeasurement> MeasureAsync(Uri target, BandwidthLimits limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(limits);
        var roundTrip = await RoundTripAsync(target, limits.PerDirection, cancellationToken);
        var download = await DownloadAsync(target, limits, cancellationToken);
        if (download.Bytes < Math.Min(limits.MinBytes, limits.MaxBytes))
        {
            throw new BandwidthProbeException(
                $"{target} served {download.Bytes} bytes, too few to measure bandwidth (at least {limits.MinBytes} are needed). " +
                "Point BANDWIDTH_TEST_URL at a URL that serves a large body, such as another node's /api/network/bandwidth.");
        }

        var upload = await UploadAsync(target, Math.Clamp(download.Bytes, limits.MinBytes, limits.MaxBytes), limits.PerDirection, cancellationToken);
        return new BandwidthMeasurement
        {
            Target = target.ToString(),
            State = BandwidthState.Measured,
            DownloadMbps = download.Mbps,
            DownloadBytes = download.Bytes,
            LatencyMs = Math.Round((roundTrip ?? download.Latency).TotalMilliseconds, 2),
            UploadMbps = upload.Mbps,
            UploadBytes = upload.Bytes,
            Error = upload.Refusal,
            MeasuredAt = Tasks.TaskStore.Format(time.GetUtcNow()),
        };
    }

    /// <summary>Megabits (10^6 bits) per second, rounded to 0.01; null when no time passed.</summary>
    public static double? Mbps(long bytes, TimeSpan elapsed) =>
        elapsed > TimeSpan.Zero ? Math.Round(bytes * 8 / elapsed.TotalSeconds / 1e6, 2) : null;

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

    private async Task<(long Bytes, double? Mbps, TimeSpan Latency)> DownloadAsync(Uri target, BandwidthLimits limits, CancellationToken cancellationToken)
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
            throw new BandwidthProbeException($"{target} answered {(int)response.StatusCode} {response.ReasonPhrase} to the download (GET); it must answer 200 with a body.");
        }

        var buffer = new byte[ChunkBytes];
        long bytes = 0;
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
                    break;
                }

                bytes += read;
                elapsed = time.GetElapsedTime(started);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The time allowed is up: what arrived by then is the measurement.
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw new BandwidthProbeException($"the download from {target} broke off after {bytes} bytes: {e.Message}", e);
        }

        return (bytes, Mbps(bytes, elapsed), latency);
    }

    private async Task<(long Bytes, double? Mbps, string? Refusal)> UploadAsync(Uri target, long bytes, TimeSpan limit, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // The body stops at the limit; the answer then gets a few seconds more.
        deadline.CancelAfter(limit + TimeSpan.FromSeconds(5));
        using var content = new UploadContent(bytes, limit, time);
        using var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = content };
        var started = time.GetTimestamp();
        HttpResponseMessage response;
        try
        {
            response = await SendAsync(request, "upload", limit, deadline.Token, cancellationToken);
        }
        catch (BandwidthProbeException e)
        {
            return (content.Written, null, e.Message);
        }

        using (response)
        {
            var elapsed = time.GetElapsedTime(started);
            return response.IsSuccessStatusCode
                ? (content.Written, Mbps(content.Written, elapsed), null)
                : (0, null, $"upload not measured: {target} answered {(int)response.StatusCode} {response.ReasonPhrase} to the POST");
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, string direction, TimeSpan limit, CancellationToken deadline, CancellationToken cancellationToken)
    {
        try
        {
            return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new BandwidthProbeException($"{request.RequestUri} did not answer the {direction} within {limit.TotalSeconds} s.");
        }
        catch (HttpRequestException e)
        {
            var reason = e.HttpRequestError == HttpRequestError.ConnectionError || e.StatusCode is null ? e.Message : $"{(int)e.StatusCode} {(HttpStatusCode)e.StatusCode}";
            throw new BandwidthProbeException($"cannot reach {request.RequestUri} for the {direction}: {reason}", e);
        }
    }

    /// <summary>Repeats one random block (incompressible) until the bytes are sent or the time is up; sent chunked.</summary>
    private sealed class UploadContent(long bytes, TimeSpan limit, TimeProvider time) : HttpContent
    {
        private long _written;

        public long Written => Interlocked.Read(ref _written);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
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

    /// <summary>A fresh block of random bytes, so that no compressing hop shrinks a body made of it.</summary>
    public static byte[] RandomBlock()
    {
        var block = new byte[ChunkBytes];
        RandomNumberGenerator.Fill(block);
        return block;
    }
}
