using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Tenzro.Node.Api;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.DevNetwork;
using Tenzro.Node.Tests.Regional;
using Tenzro.Node.Tests.Resources;
using Tenzro.Node.Tests.Support;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Tests.Hardware;

/// <summary>
/// Bandwidth: the probe a node serves, and a node measuring its bandwidth against another node on loopback
/// (BANDWIDTH_TEST_URL, on request, cached across restarts, reported in node_status).
/// </summary>
[Trait("Suite", "hardware")]
public sealed class BandwidthTests
{
    private const long TenMiB = 10L * 1024 * 1024;

    [Fact]
    public async Task ProbeGet_Bytes_ServesExactlyThatManyIncompressibleBytes()
    {
        await using var node = await TestNode.StartAsync();

        using var response = await node.Client.GetAsync("/api/network/bandwidth?bytes=200000", Timeouts.Token());
        var body = await response.Content.ReadAsByteArrayAsync(Timeouts.Token());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(200000, response.Content.Headers.ContentLength);
        Assert.True(response.Headers.Contains(BandwidthProbe.ProbeHeader));
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
        Assert.Equal(200000, body.Length);
        Assert.True(body.Distinct().Count() > 200, "the body is random, not a repeated byte");
    }

    [Fact]
    public async Task ProbeHead_AnswersTheHeadersWithoutABody()
    {
        await using var node = await TestNode.StartAsync();

        using var request = new HttpRequestMessage(HttpMethod.Head, "/api/network/bandwidth");
        using var response = await node.Client.SendAsync(request, Timeouts.Token());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(TenMiB, response.Content.Headers.ContentLength);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(Timeouts.Token()));
    }

    [Theory]
    [InlineData("lots")]
    [InlineData("-1")]
    [InlineData("104857601")]
    public async Task ProbeGet_BadBytes_IsA400ThatSaysTheRange(string bytes)
    {
        await using var node = await TestNode.StartAsync();

        using var response = await node.Client.GetAsync($"/api/network/bandwidth?bytes={bytes}", Timeouts.Token());
        var problem = await TaskApi.ReadAsync(response);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains($"'bytes' is '{bytes}'", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("104857600", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProbePost_BodyLargerThanMaxRequestSize_IsCountedByTheProbesOwnCap()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["MAX_REQUEST_SIZE"] = "1048576" });
        var upload = new byte[3 * 1024 * 1024];
        Random.Shared.NextBytes(upload);

        using var content = new ByteArrayContent(upload);
        using var response = await node.Client.PostAsync("/api/network/bandwidth", content, Timeouts.Token());
        var answer = await TaskApi.ReadAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(upload.Length, answer!["bytes"]!.GetValue<long>());
        Assert.True(answer["seconds"]!.GetValue<double>() > 0);
        Assert.NotNull(answer["mbps"]);
    }

    [Fact]
    public async Task ProbeGet_ThirdAtOnce_Is429WithRetryAfterAndTheNodeKeepsServing()
    {
        await using var node = await TestNode.StartAsync();
        // Two downloads of 100 MiB that nobody reads hold their permits: the socket buffers fill and the server waits.
        using var first = await node.Client.GetAsync("/api/network/bandwidth?bytes=104857600", HttpCompletionOption.ResponseHeadersRead, Timeouts.Token());
        using var second = await node.Client.GetAsync("/api/network/bandwidth?bytes=104857600", HttpCompletionOption.ResponseHeadersRead, Timeouts.Token());

        using var third = await node.Client.GetAsync("/api/network/bandwidth?bytes=1000", Timeouts.Token());
        var problem = await TaskApi.ReadAsync(third);
        using var health = await node.Client.GetAsync("/health/live", Timeouts.Token());

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.NotNull(third.Headers.RetryAfter);
        Assert.Contains("2 bandwidth probes at a time", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public void Gate_RemoteAddress_GetsOneAtATimeAndTwentyFourAnHourWhileLoopbackIsOnlyBoundByConcurrency()
    {
        using var gate = new BandwidthProbeGate(new QuotaOptions());
        var remote = Caller("192.0.2.7");
        var loopback = Caller("127.0.0.1");

        bool held;
        bool second;
        using (var first = gate.Acquire(remote))
        {
            held = first.IsAcquired;
            using var again = gate.Acquire(remote);
            second = again.IsAcquired;
        }

        var hourly = Enumerable.Range(0, 24).Select(_ =>
        {
            using var lease = gate.Acquire(remote);
            return lease.IsAcquired;
        }).ToList();
        var loopbackGrants = Enumerable.Range(0, 40).Select(_ =>
        {
            using var lease = gate.Acquire(loopback);
            return lease.IsAcquired;
        }).ToList();

        Assert.True(held);
        Assert.False(second);
        Assert.Equal(23, hourly.Count(g => g)); // the first lease above spent one of the 24
        Assert.False(hourly[^1]);
        Assert.All(loopbackGrants, Assert.True);
    }

    [Theory]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true)]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:3::1", false)]
    [InlineData("::ffff:192.0.2.7", "192.0.2.7", true)]
    [InlineData("192.0.2.7", "192.0.2.8", false)]
    public void Gate_RequesterKey_CountsAnIpv6AddressByItsSlash64(string a, string b, bool same)
    {
        Assert.Equal(same, Tenzro.Node.Security.Caller.AddressKey(IPAddress.Parse(a)) == Tenzro.Node.Security.Caller.AddressKey(IPAddress.Parse(b)));
    }

    [Fact]
    public async Task TwoNodes_BandwidthTestUrl_MeasuresThePeerReportsTheSlowerDirectionAndReusesItAfterARestart()
    {
        await using var peer = await TestNode.StartAsync();
        var target = new Uri(peer.BaseAddress, "/api/network/bandwidth").ToString();
        var directory = TestNode.NewDirectory();
        var settings = new Dictionary<string, string?> { ["BANDWIDTH_TEST_URL"] = target };
        JsonObject measured;
        await using (var node = await TestNode.StartAsync(settings, directory))
        {
            var network = await WaitForMeasurementAsync(node.Client, "measured");
            measured = network["measurement"]!.AsObject();
            var metrics = await node.Client.GetStringAsync("/metrics", Timeouts.Token());

            Assert.Equal(target, measured["target"]!.GetValue<string>());
            Assert.Equal(TenMiB, measured["downloadBytes"]!.GetValue<long>());
            Assert.Equal(TenMiB, measured["uploadBytes"]!.GetValue<long>());
            var down = measured["downloadMbps"]!.GetValue<double>();
            var up = measured["uploadMbps"]!.GetValue<double>();
            Assert.True(down > 0 && up > 0);
            Assert.True(measured["latencyMs"]!.GetValue<double>() > 0);
            Assert.Null(measured["error"]);
            Assert.Equal("measured", network["bandwidthSource"]!.GetValue<string>());
            Assert.Equal(Math.Min(down, up), network["bandwidthMbps"]!.GetValue<double>());
            Assert.Contains("tenzro_network_bandwidth_mbps{otel_scope_name=\"Tenzro.Node\",kind=\"download\"}", metrics, StringComparison.Ordinal);
        }

        await peer.StopAsync();
        await using (var restarted = await TestNode.StartAsync(settings, directory))
        {
            // The peer is gone: figures can only come from the store, younger than BANDWIDTH_TEST_INTERVAL.
            var network = await WaitForMeasurementAsync(restarted.Client, "cached");

            Assert.Equal(measured["downloadMbps"]!.GetValue<double>(), network["measurement"]!["downloadMbps"]!.GetValue<double>());
            Assert.Equal(measured["measuredAt"]!.GetValue<string>(), network["measurement"]!["measuredAt"]!.GetValue<string>());
            Assert.Equal("measured", network["bandwidthSource"]!.GetValue<string>());
        }

        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task Measure_TargetGone_FailsWithTheReasonAndKeepsTheLastFiguresMarkedFailed()
    {
        var peer = await TestNode.StartAsync();
        var target = new Uri(peer.BaseAddress, "/api/network/bandwidth").ToString();
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["BANDWIDTH_TEST_URL"] = target, ["BANDWIDTH_TEST_INTERVAL"] = "0" });
        var before = (await WaitForMeasurementAsync(node.Client, "measured"))["measurement"]!;
        await peer.DisposeAsync();

        using var response = await node.Admin.PostAsync("/api/network/bandwidth/measure", null, Timeouts.Token(Timeouts.Long));
        var problem = await TaskApi.ReadAsync(response);
        var network = (await node.Client.GetJsonAsync("/api/hardware/profile"))["network"]!;

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("cannot reach", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("failed", network["measurement"]!["state"]!.GetValue<string>());
        Assert.Contains("cannot reach", network["measurement"]!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(before["downloadMbps"]!.GetValue<double>(), network["measurement"]!["downloadMbps"]!.GetValue<double>());
        Assert.Equal("measured", network["bandwidthSource"]!.GetValue<string>());
    }

    [Fact]
    public async Task Measure_AnotherTarget_IsAnsweredButNeitherReportedNorStored()
    {
        await using var peer = await TestNode.StartAsync();
        var configured = new Uri(peer.BaseAddress, "/api/network/bandwidth").ToString();
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["BANDWIDTH_TEST_URL"] = configured, ["BANDWIDTH_TEST_INTERVAL"] = "0" });
        var before = await WaitForMeasurementAsync(node.Client, "measured");
        var other = Uri.EscapeDataString(new Uri(peer.BaseAddress, "/api/network/bandwidth?bytes=2097152").ToString());

        using var measured = await node.Admin.PostAsync($"/api/network/bandwidth/measure?target={other}", null, Timeouts.Token(Timeouts.Long));
        var answer = await TaskApi.ReadAsync(measured);
        var small = Uri.EscapeDataString(new Uri(peer.BaseAddress, "/health").ToString());
        using var failed = await node.Admin.PostAsync($"/api/network/bandwidth/measure?target={small}", null, Timeouts.Token(Timeouts.Long));
        var problem = await TaskApi.ReadAsync(failed);
        var after = (await node.Client.GetJsonAsync("/api/hardware/profile"))["network"]!;

        Assert.Equal(HttpStatusCode.OK, measured.StatusCode);
        Assert.Equal(2097152, answer!["measurement"]!["downloadBytes"]!.GetValue<long>());
        Assert.False(answer["reported"]!.GetValue<bool>());
        Assert.Equal(before["bandwidthMbps"]!.GetValue<double>(), answer["bandwidthMbps"]!.GetValue<double>());
        Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);
        Assert.Contains("too few to measure bandwidth", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("measured", after["measurement"]!["state"]!.GetValue<string>());
        Assert.Equal(configured, after["measurement"]!["target"]!.GetValue<string>());
        Assert.Equal(TenMiB, after["measurement"]!["downloadBytes"]!.GetValue<long>());
        Assert.Null(node.Service<BandwidthStore>().Find(new Uri(Uri.UnescapeDataString(other))));
        Assert.NotNull(node.Service<BandwidthStore>().Find(new Uri(configured)));
    }

    [Fact]
    public async Task Measure_ConfiguredTargetOnRequest_IsReported()
    {
        await using var peer = await TestNode.StartAsync();
        var configured = new Uri(peer.BaseAddress, "/api/network/bandwidth").ToString();
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["BANDWIDTH_TEST_URL"] = configured, ["BANDWIDTH_TEST_INTERVAL"] = "0" });
        var first = (await WaitForMeasurementAsync(node.Client, "measured"))["measurement"]!;

        // A request that arrives while the start-up measurement is still completing (its figures already shown) shares
        // it, by design; one made after it gets a measurement of its own, so a second request must see new figures.
        HttpResponseMessage response = null!;
        System.Text.Json.Nodes.JsonObject? answer = null;
        for (var attempt = 0; attempt < 2 && (answer is null || answer["measurement"]!["measuredAt"]!.GetValue<string>() == first["measuredAt"]!.GetValue<string>()); attempt++)
        {
            response?.Dispose();
            response = await node.Admin.PostAsync("/api/network/bandwidth/measure", null, Timeouts.Token(Timeouts.Long));
            answer = await TaskApi.ReadAsync(response);
        }

        using var _ = response;
        var network = (await node.Client.GetJsonAsync("/api/hardware/profile"))["network"]!;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(answer!["reported"]!.GetValue<bool>());
        Assert.Equal("measured", answer["bandwidthSource"]!.GetValue<string>());
        Assert.Equal(answer["measurement"]!["measuredAt"]!.GetValue<string>(), network["measurement"]!["measuredAt"]!.GetValue<string>());
        Assert.NotEqual(first["measuredAt"]!.GetValue<string>(), network["measurement"]!["measuredAt"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("Origin", "http://evil.example", "Cross-site request")]
    [InlineData("Sec-Fetch-Site", "cross-site", "Cross-site request")]
    [InlineData("Host", "evil.example", "Host not local")]
    public async Task Measure_FromAWebPageOfAnotherSiteOrARebindingName_IsRefused(string header, string value, string title)
    {
        await using var node = await TestNode.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/network/bandwidth/measure?target=http://192.0.2.1/file");
        if (header == "Host")
        {
            request.Headers.Host = value;
        }
        else
        {
            request.Headers.TryAddWithoutValidation(header, value);
        }

        using var response = await node.Client.SendAsync(request, Timeouts.Token());
        var problem = await TaskApi.ReadAsync(response);
        using var reset = new HttpRequestMessage(HttpMethod.Post, "/api/network/reset");
        reset.Headers.TryAddWithoutValidation("Origin", "http://evil.example");
        using var resetResponse = await node.Client.SendAsync(reset, Timeouts.Token());

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(title, problem!["title"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Forbidden, resetResponse.StatusCode);
    }

    [Fact]
    public async Task Measure_FromTheNodesOwnDashboardOrigin_IsAllowed()
    {
        await using var node = await TestNode.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/network/bandwidth/measure");
        request.Headers.TryAddWithoutValidation("Origin", node.BaseAddress.GetLeftPart(UriPartial.Authority));
        request.Headers.TryAddWithoutValidation("Sec-Fetch-Site", "same-origin");

        using var response = await node.Admin.SendAsync(request, Timeouts.Token());

        // Past the admin rule: the answer is about the missing target.
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
    }

    [Fact]
    public async Task Probe_Disabled_AnswersNotFoundThatSaysWhy()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["BANDWIDTH_PROBE_ENABLED"] = "false" });

        using var get = await node.Client.GetAsync("/api/network/bandwidth", Timeouts.Token());
        using var post = await node.Client.PostAsync("/api/network/bandwidth", new ByteArrayContent(new byte[10]), Timeouts.Token());
        var problem = await TaskApi.ReadAsync(get);

        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, post.StatusCode);
        Assert.Contains("BANDWIDTH_PROBE_ENABLED=false", problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProbePost_DeclaredOverTheCap_Is413BeforeAnyByteIsRead()
    {
        await using var node = await TestNode.StartAsync();
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, node.BaseAddress.Port, Timeouts.Token());
        var stream = client.GetStream();
        var head = $"POST /api/network/bandwidth HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {BandwidthApi.MaxBytes + 1}\r\n\r\n";
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(head), Timeouts.Token());

        var buffer = new byte[4096];
        var read = await stream.ReadAsync(buffer, Timeouts.Token());
        var answer = System.Text.Encoding.ASCII.GetString(buffer, 0, read);

        Assert.StartsWith("HTTP/1.1 413", answer, StringComparison.Ordinal);
        Assert.Contains("at most 104857600 bytes", answer, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", HttpStatusCode.Conflict, "BANDWIDTH_TEST_URL is not set")]
    [InlineData("?target=ftp://example.org/file", HttpStatusCode.BadRequest, "give an http:// or https:// URL")]
    public async Task Measure_NoUsableTarget_IsAProblemThatSaysWhatToSet(string query, HttpStatusCode status, string expected)
    {
        await using var node = await TestNode.StartAsync();

        using var response = await node.Admin.PostAsync("/api/network/bandwidth/measure" + query, null, Timeouts.Token());
        var problem = await TaskApi.ReadAsync(response);

        Assert.Equal(status, response.StatusCode);
        Assert.Contains(expected, problem!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Probe_PlainFileServer_MeasuresTheDownloadOnlyAndNeverUploads()
    {
        var posts = 0;
        await using var server = await LoopbackServer.StartAsync(app =>
        {
            app.MapGet("/file", () => Results.Bytes(new byte[2 * 1024 * 1024], "application/octet-stream"));
            app.MapPost("/file", () =>
            {
                Interlocked.Increment(ref posts);
                return Results.Ok();
            });
        });
        using var http = BandwidthProbe.CreateHttpClient();
        var probe = new BandwidthProbe(http, TimeProvider.System);

        var measurement = await probe.MeasureAsync(new Uri(server.BaseAddress, "/file"), BandwidthLimits.Default, Timeouts.Token(Timeouts.Long));

        Assert.Equal(BandwidthState.Measured, measurement.State);
        Assert.Equal(2 * 1024 * 1024, measurement.DownloadBytes);
        Assert.NotNull(measurement.DownloadMbps);
        Assert.Null(measurement.UploadMbps);
        Assert.Equal(0, posts);
        Assert.Contains("is not a node's bandwidth probe", measurement.Error, StringComparison.Ordinal);
        Assert.Equal(measurement.DownloadMbps, measurement.ReportedMbps);
    }

    [Fact]
    public async Task Probe_ProbeThatTakesNoUploads_LeavesTheUploadUnmeasuredWithTheReason()
    {
        await using var server = await ProbeLikeServer(StatusCodes.Status405MethodNotAllowed);
        using var http = BandwidthProbe.CreateHttpClient();

        var measurement = await new BandwidthProbe(http, TimeProvider.System).MeasureAsync(new Uri(server.BaseAddress, "/probe"), BandwidthLimits.Default, Timeouts.Token(Timeouts.Long));

        Assert.Equal(BandwidthState.Measured, measurement.State);
        Assert.Null(measurement.UploadMbps);
        Assert.Contains("answered 405", measurement.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Probe_UploadRefusedForNow_FailsTheMeasurementInsteadOfReportingTheDownloadAlone()
    {
        await using var server = await ProbeLikeServer(StatusCodes.Status429TooManyRequests);
        using var http = BandwidthProbe.CreateHttpClient();

        var error = await Assert.ThrowsAsync<BandwidthProbeException>(() =>
            new BandwidthProbe(http, TimeProvider.System).MeasureAsync(new Uri(server.BaseAddress, "/probe"), BandwidthLimits.Default, Timeouts.Token(Timeouts.Long)));

        Assert.Contains("answered 429", error.Message, StringComparison.Ordinal);
        Assert.Contains("retry after 30 s", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, server.Count); // POSTs: one more try a moment later, then the refusal stands
    }

    [Fact]
    public async Task Probe_TargetRedirects_FailsNamingWhereToInsteadOfFollowing()
    {
        await using var server = await LoopbackServer.StartAsync(app =>
        {
            app.MapMethods("/old", [HttpMethods.Get, HttpMethods.Head], () => Results.Redirect("/new", permanent: true));
            app.MapGet("/new", () => Results.Bytes(new byte[2 * 1024 * 1024], "application/octet-stream"));
        });
        using var http = BandwidthProbe.CreateHttpClient();

        var error = await Assert.ThrowsAsync<BandwidthProbeException>(() =>
            new BandwidthProbe(http, TimeProvider.System).MeasureAsync(new Uri(server.BaseAddress, "/old"), BandwidthLimits.Default, Timeouts.Token()));

        Assert.Contains("redirects the download to /new; give the final URL", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Monitor_Cancelled_AnswersThatTheNodeIsShuttingDownAndKeepsTheProfile()
    {
        await using var server = await SlowServer();
        var slow = new Uri(server.BaseAddress, "/slow");
        await using var kit = MonitorKit.Create(slow, BandwidthLimits.Default);

        var measuring = kit.Monitor.MeasureAsync(slow, Timeouts.Token());
        await ResourcesApiTests.WaitUntilAsync(() => server.Count > 0);
        var running = kit.Profiler.Current.Network.Measurement?.State;
        kit.Monitor.Cancel();
        var result = await measuring.WaitAsync(Timeouts.Token());

        Assert.Equal(BandwidthState.Running, running);
        Assert.Equal(BandwidthState.Failed, result.State);
        Assert.Equal("the node is shutting down", result.Error);
        Assert.Null(kit.Profiler.Current.Network.Measurement);
        Assert.NotEqual("measured", kit.Profiler.Current.Network.BandwidthSource);
    }

    [Fact]
    public async Task Monitor_TwoTargetsAsked_MeasuresThemOneAfterTheOther()
    {
        await using var server = await SlowServer();
        var limits = new BandwidthLimits(MaxBytes: 100L * 1024 * 1024, MinBytes: 16 * 1024, PerDirection: TimeSpan.FromSeconds(1));
        await using var kit = MonitorKit.Create(new Uri(server.BaseAddress, "/slow?configured"), limits);

        var configured = kit.Monitor.MeasureAsync(new Uri(server.BaseAddress, "/slow?configured"), Timeouts.Token());
        var diagnosis = kit.Monitor.MeasureAsync(new Uri(server.BaseAddress, "/slow?other"), Timeouts.Token());
        var results = await Task.WhenAll(configured, diagnosis).WaitAsync(Timeouts.Token());

        Assert.All(results, r => Assert.Equal(BandwidthState.Measured, r.State));
        Assert.Equal(2, server.Count);
        // Each download runs for its whole second; run together, both GETs would arrive within milliseconds.
        var arrivals = server.Arrivals;
        Assert.True(arrivals[1] - arrivals[0] >= TimeSpan.FromSeconds(0.9), $"the second GET came {(arrivals[1] - arrivals[0]).TotalMilliseconds} ms after the first");
    }

    [Fact]
    public async Task Monitor_DiagnosisWhoseCallerGoesAway_StopsAndFreesTheTurn()
    {
        await using var slowServer = await SlowServer();
        await using var peer = await TestNode.StartAsync();
        await using var kit = MonitorKit.Create(null, BandwidthLimits.Default);
        using var caller = new CancellationTokenSource();

        var abandoned = kit.Monitor.MeasureAsync(new Uri(slowServer.BaseAddress, "/slow"), caller.Token);
        await ResourcesApiTests.WaitUntilAsync(() => slowServer.Count > 0);
        await caller.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned.WaitAsync(Timeouts.Token()));
        var next = await kit.Monitor.MeasureAsync(new Uri(peer.BaseAddress, "/api/network/bandwidth?bytes=2097152"), Timeouts.Token());

        Assert.Equal(BandwidthState.Measured, next.State);
        Assert.Equal(2097152, next.DownloadBytes);
    }

    [Fact]
    public async Task Probe_SlowTarget_MeasuresWhatArrivedWithinTheTimeAllowed()
    {
        await using var server = await SlowServer();
        using var http = BandwidthProbe.CreateHttpClient();
        var probe = new BandwidthProbe(http, TimeProvider.System);
        // Less than MinBytes arrives in the two seconds allowed: a slow link is still a measurement, not "too few bytes".
        var limits = new BandwidthLimits(MaxBytes: 100L * 1024 * 1024, MinBytes: 1024 * 1024, PerDirection: TimeSpan.FromSeconds(2));

        var measurement = await probe.MeasureAsync(new Uri(server.BaseAddress, "/slow"), limits, Timeouts.Token());

        Assert.Equal(BandwidthState.Measured, measurement.State);
        Assert.InRange(measurement.DownloadBytes, 16 * 1024, 1024 * 1024 - 1);
        // About 16 KiB per 50 ms: 2.6 Mbps; far below what loopback carries, so the figure is the server's pace.
        Assert.InRange(measurement.DownloadMbps!.Value, 0.5, 20);
    }

    [Fact]
    public async Task Probe_NothingListens_FailsWithCannotReach()
    {
        using var http = BandwidthProbe.CreateHttpClient();
        var probe = new BandwidthProbe(http, TimeProvider.System);
        var port = RegionalKit.FreePort();

        var error = await Assert.ThrowsAsync<BandwidthProbeException>(() =>
            probe.MeasureAsync(new Uri($"http://127.0.0.1:{port}/api/network/bandwidth"), BandwidthLimits.Default, Timeouts.Token()));

        Assert.Contains($"cannot reach http://127.0.0.1:{port}/api/network/bandwidth for the download", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Monitor_FreshStoredMeasurement_IsPublishedAsCachedWithoutMeasuring()
    {
        var directory = TestNode.NewDirectory();
        try
        {
            var database = new NodeDatabase(Path.Combine(directory, "node.db"));
            database.Migrate(Migrations.All);
            var store = new BandwidthStore(database);
            var target = new Uri($"http://127.0.0.1:{RegionalKit.FreePort()}/api/network/bandwidth");
            store.Save(new BandwidthMeasurement
            {
                Target = target.ToString(),
                State = BandwidthState.Measured,
                DownloadMbps = 480,
                UploadMbps = 95,
                LatencyMs = 12,
                DownloadBytes = TenMiB,
                UploadBytes = TenMiB,
                MeasuredAt = Core.Json.Timestamps.FormatPrecise(DateTimeOffset.UtcNow.AddMinutes(-5)),
            });
            var profiler = Profiler();
            using var http = BandwidthProbe.CreateHttpClient();
            using var monitor = new BandwidthMonitor(profiler, new BandwidthProbe(http, TimeProvider.System), store,
                new NetworkOptions { BandwidthTestUrl = target }, BandwidthLimits.Default, TimeProvider.System, NullLogger<BandwidthMonitor>.Instance);
            using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));

            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => monitor.RunAsync(stop.Token));

            Assert.Equal(BandwidthState.Cached, profiler.Current.Network.Measurement!.State);
            Assert.Equal(95, profiler.Current.Network.BandwidthMbps);
            Assert.Equal("measured", profiler.Current.Network.BandwidthSource);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Heartbeat_MeasuredBandwidth_IsWhatNodeStatusReports()
    {
        await using var peer = await TestNode.StartAsync();
        await using var regional = await DevRegionalNode.StartAsync();
        await using var node = await RegionalKit.StartNodeAsync(regional.Url, new Dictionary<string, string?>
        {
            ["BANDWIDTH_TEST_URL"] = new Uri(peer.BaseAddress, "/api/network/bandwidth").ToString(),
        });
        var peerId = node.Service<NodeIdentity>().PeerId;
        var network = await WaitForMeasurementAsync(node.Client, "measured");
        var reported = network["bandwidthMbps"]!.GetValue<double>();

        await regional.WaitUntilAsync(
            () => regional.Received().Any(m => m.Type == "node_status" && m.PeerId == peerId && m.Message["status"]?["resources"]?["bandwidth"]?.GetValue<double>() == reported),
            "a node_status with the measured bandwidth",
            Timeouts.Long);
    }

    [Theory]
    [InlineData("BANDWIDTH_TEST_URL", "ftp://example.org/big", "BANDWIDTH_TEST_URL: 'ftp://example.org/big'")]
    [InlineData("BANDWIDTH_TEST_INTERVAL", "60000", "0 (start-up and on request only) or an interval from 300000")]
    [InlineData("BANDWIDTH_TEST_INTERVAL", "soon", "BANDWIDTH_TEST_INTERVAL: 'soon'")]
    public void Settings_BadBandwidthTestValue_NamesTheKeyAndWhatItExpects(string key, string value, string expected)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection([new KeyValuePair<string, string?>(key, value)]).Build();

        var error = Assert.Throws<ConfigurationException>(() => NodeSettings.Load(configuration, "/base"));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal([key], error.Errors.Select(e => e.Key));
    }

    private static async Task<JsonObject> WaitForMeasurementAsync(HttpClient client, string state) =>
        (await client.WaitForJsonAsync(
            "/api/hardware/profile",
            p => p["network"]?["measurement"]?["state"]?.GetValue<string>() == state,
            $"a bandwidth measurement in state {state}",
            Timeouts.Long))["network"]!.AsObject();

    private static DefaultHttpContext Caller(string address)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(address);
        return context;
    }

    /// <summary>Serves 2 MiB marked as a node's probe on GET and HEAD, and answers POST with <paramref name="postStatus"/> (Retry-After 30 on 429), counting the POSTs.</summary>
    private static async Task<CountingServer> ProbeLikeServer(int postStatus)
    {
        var posts = new CountingServer();
        posts.Server = await LoopbackServer.StartAsync(app =>
        {
            app.MapMethods("/probe", [HttpMethods.Get, HttpMethods.Head], (HttpContext context) =>
            {
                context.Response.Headers[BandwidthProbe.ProbeHeader] = "1";
                return Results.Bytes(new byte[2 * 1024 * 1024], "application/octet-stream");
            });
            app.MapPost("/probe", (HttpContext context) =>
            {
                posts.Enter();
                if (postStatus == StatusCodes.Status429TooManyRequests)
                {
                    context.Response.Headers.RetryAfter = "30";
                }

                return Results.StatusCode(postStatus);
            });
        });
        return posts;
    }

    /// <summary>Trickles 16 KiB every 50 ms at /slow, counting the GETs and when each arrived.</summary>
    private static async Task<CountingServer> SlowServer()
    {
        var counts = new CountingServer();
        counts.Server = await LoopbackServer.StartAsync(app => app.MapGet("/slow", async (HttpContext context) =>
        {
            counts.Enter();
            try
            {
                var block = new byte[16 * 1024];
                for (var i = 0; i < 1000 && !context.RequestAborted.IsCancellationRequested; i++)
                {
                    await context.Response.Body.WriteAsync(block, context.RequestAborted);
                    await context.Response.Body.FlushAsync(context.RequestAborted);
                    await Task.Delay(50, context.RequestAborted);
                }
            }
            catch (OperationCanceledException)
            {
                // The measuring side hung up.
            }
        }));
        return counts;
    }

    private static HardwareProfiler Profiler() =>
        new(TierAndRequirementsTests.Facts(4, 8L << 30, 0), new NodeOptions(), new NetworkOptions(), TimeProvider.System);

    /// <summary>A <see cref="LoopbackServer"/> whose handlers count the requests they served, and when each arrived.</summary>
    private sealed class CountingServer : IAsyncDisposable
    {
        private readonly List<TimeSpan> _arrivals = [];
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

        public LoopbackServer Server { get; set; } = null!;

        public Uri BaseAddress => Server.BaseAddress;

        public int Count
        {
            get
            {
                lock (_arrivals)
                {
                    return _arrivals.Count;
                }
            }
        }

        public IReadOnlyList<TimeSpan> Arrivals
        {
            get
            {
                lock (_arrivals)
                {
                    return [.. _arrivals];
                }
            }
        }

        public void Enter()
        {
            lock (_arrivals)
            {
                _arrivals.Add(_clock.Elapsed);
            }
        }

        public ValueTask DisposeAsync() => Server.DisposeAsync();
    }

    /// <summary>A monitor over a fresh store and a test profiler, measuring <c>configured</c> as BANDWIDTH_TEST_URL.</summary>
    private sealed class MonitorKit : IAsyncDisposable
    {
        private readonly string _directory;
        private readonly HttpClient _http;

        private MonitorKit(string directory, HttpClient http, HardwareProfiler profiler, BandwidthMonitor monitor)
        {
            _directory = directory;
            _http = http;
            Profiler = profiler;
            Monitor = monitor;
        }

        public HardwareProfiler Profiler { get; }

        public BandwidthMonitor Monitor { get; }

        public static MonitorKit Create(Uri? configured, BandwidthLimits limits)
        {
            var directory = TestNode.NewDirectory();
            var database = new NodeDatabase(Path.Combine(directory, "node.db"));
            database.Migrate(Migrations.All);
            var http = BandwidthProbe.CreateHttpClient();
            var profiler = Profiler();
            var monitor = new BandwidthMonitor(profiler, new BandwidthProbe(http, TimeProvider.System), new BandwidthStore(database),
                new NetworkOptions { BandwidthTestUrl = configured }, limits, TimeProvider.System, NullLogger<BandwidthMonitor>.Instance);
            return new MonitorKit(directory, http, profiler, monitor);
        }

        public ValueTask DisposeAsync()
        {
            Monitor.Dispose();
            _http.Dispose();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(_directory, recursive: true);
            return ValueTask.CompletedTask;
        }
    }
}
