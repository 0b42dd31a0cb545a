using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Hosting;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Security;

/// <summary>Roles by the route table, keys, the admin token, the Host and Origin rules (CONTRACTS.md "Access control").</summary>
[Trait("Suite", "security")]
public sealed class AccessControlTests : IAsyncLifetime
{
    private const string Reader = "tnz_reader1_9f8e7d6c5b4a39281706f5e4d3c2b1a0";
    private const string Submitter = "tnz_subm1_0a1b2c3d4e5f60718293a4b5c6d7e8f9";
    private const string OtherSubmitter = "tnz_subm2_1b2c3d4e5f60718293a4b5c6d7e8f90a";
    private const string AdminKey = "tnz_admin1_5e4d3c2b1a09f8e7d6c5b4a392817060";
    private const string StoreTask = """{"type":"store","data":{"content":"aGVsbG8=","encoding":"base64"}}""";

    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync(new Dictionary<string, string?>
    {
        ["API_KEYS"] = $"reader:{Reader},submitter:{Submitter},submitter:{OtherSubmitter}",
        ["API_KEY"] = AdminKey,
    });

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Theory]
    [InlineData(null, "GET", "/api/tasks", HttpStatusCode.OK)]
    [InlineData(Reader, "GET", "/api/tasks", HttpStatusCode.OK)]
    [InlineData(Reader, "GET", "/api/resources/status", HttpStatusCode.OK)]
    [InlineData(Reader, "POST", "/api/tasks/execute", HttpStatusCode.Forbidden)]
    [InlineData(Reader, "GET", "/api/network/outbox/t-1", HttpStatusCode.Forbidden)]
    [InlineData(Submitter, "GET", "/api/network/outbox/t-1", HttpStatusCode.Forbidden)]
    [InlineData(null, "GET", "/api/network/outbox/t-1", HttpStatusCode.OK)]
    [InlineData(Submitter, "POST", "/api/tasks/execute", HttpStatusCode.Accepted)]
    [InlineData(null, "POST", "/api/tasks/execute", HttpStatusCode.Accepted)]
    [InlineData(null, "POST", "/api/node/drain", HttpStatusCode.Forbidden)]
    [InlineData(Submitter, "POST", "/api/node/drain", HttpStatusCode.Forbidden)]
    [InlineData(Submitter, "POST", "/api/resources/clear", HttpStatusCode.Forbidden)]
    [InlineData(Submitter, "GET", "/api/keys", HttpStatusCode.Forbidden)]
    [InlineData(AdminKey, "POST", "/api/node/drain", HttpStatusCode.OK)]
    [InlineData(AdminKey, "GET", "/api/keys", HttpStatusCode.OK)]
    [InlineData("tnz_nobody_00000000000000000000000000000000", "GET", "/api/tasks", HttpStatusCode.Unauthorized)]
    [InlineData("not-a-key", "GET", "/status", HttpStatusCode.Unauthorized)]
    [InlineData("tnz_nobody_00000000000000000000000000000000", "GET", "/health", HttpStatusCode.OK)]
    public async Task Route_ByRole_AnswersAsTheRouteTableSays(string? key, string method, string path, HttpStatusCode expected)
    {
        using var client = key is null ? null : _node.ClientWith(key);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST")
        {
            request.Content = new StringContent(path.EndsWith("execute", StringComparison.Ordinal) ? StoreTask : "{}", Encoding.UTF8, "application/json");
        }

        using var response = await (client ?? _node.Client).SendAsync(request, Timeouts.Token());

        Assert.Equal(expected, response.StatusCode);
        if ((int)expected >= 400)
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.False(string.IsNullOrEmpty((await TaskApi.ReadAsync(response))!["detail"]?.GetValue<string>()));
        }
    }

    [Fact]
    public async Task AdminToken_FromLoopback_IsAdminAndItsFileIsOwnerOnly()
    {
        var path = Path.Combine(_node.DataDirectory, "admin.token");

        using var drained = await _node.Admin.PostAsync("/api/node/drain", null, Timeouts.Token());
        using var resumed = await _node.Admin.PostAsync("/api/node/resume", null, Timeouts.Token());

        Assert.Equal(HttpStatusCode.OK, drained.StatusCode);
        Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, OperatingSystem.IsWindows() ? UnixFileMode.UserRead | UnixFileMode.UserWrite : File.GetUnixFileMode(path));
    }

    [Fact]
    public async Task Task_OfAnotherSubmitter_ShowsItsStatusButNotItsResultBlobOrCancel()
    {
        using var owner = _node.ClientWith(Submitter);
        using var other = _node.ClientWith(OtherSubmitter);
        using var reader = _node.ClientWith(Reader);
        var (_, submitted) = await owner.SubmitAsync(StoreTask);
        var taskId = submitted!["taskId"]!.GetValue<string>();
        var final = await owner.WaitFinalAsync(taskId);
        using var ownResult = await owner.GetAsync($"/api/tasks/{taskId}/result", Timeouts.Token());
        var sha256 = (await TaskApi.ReadAsync(ownResult))!["result"]!["sha256"]!.GetValue<string>();

        using var otherResult = await other.GetAsync($"/api/tasks/{taskId}/result", Timeouts.Token());
        using var otherBlob = await other.GetAsync($"/api/blobs/{sha256}", Timeouts.Token());
        using var otherCancel = await other.DeleteAsync($"/api/tasks/{taskId}", Timeouts.Token());
        using var anonymousResult = await _node.Client.GetAsync($"/api/tasks/{taskId}/result", Timeouts.Token());
        using var readerStatus = await reader.GetAsync($"/api/tasks/{taskId}", Timeouts.Token());
        using var readerResult = await reader.GetAsync($"/api/tasks/{taskId}/result", Timeouts.Token());
        using var ownBlob = await owner.GetAsync($"/api/blobs/{sha256}", Timeouts.Token());
        using var adminResult = await _node.Admin.GetAsync($"/api/tasks/{taskId}/result", Timeouts.Token());

        Assert.Equal("completed", final["state"]!.GetValue<string>());
        Assert.Equal("subm1", final["owner"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Forbidden, otherResult.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, otherBlob.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, otherCancel.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, anonymousResult.StatusCode);
        Assert.Equal(HttpStatusCode.OK, readerStatus.StatusCode);
        Assert.Null((await TaskApi.ReadAsync(readerStatus))!["result"]);
        Assert.Equal(HttpStatusCode.Forbidden, readerResult.StatusCode);
        Assert.Equal("hello", await ownBlob.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, adminResult.StatusCode);
    }

    [Fact]
    public async Task Keys_CreatedRotatedAndRevoked_WorkUntilRevokedAndAreAudited()
    {
        using var create = await _node.Admin.PostAsync("/api/keys", Json("""{"role":"submitter","name":"ci","expires":"30d"}"""), Timeouts.Token());
        var created = (await TaskApi.ReadAsync(create))!;
        var id = created["id"]!.GetValue<string>();
        using var first = _node.ClientWith(created["key"]!.GetValue<string>());
        var (firstStatus, _) = await first.SubmitAsync(StoreTask);
        using var rotate = await _node.Admin.PostAsync($"/api/keys/{id}/rotate", null, Timeouts.Token());
        using var second = _node.ClientWith((await TaskApi.ReadAsync(rotate))!["key"]!.GetValue<string>());
        using var oldDuringGrace = await first.GetAsync("/api/tasks", Timeouts.Token());
        using var revoke = await _node.Admin.DeleteAsync($"/api/keys/{id}", Timeouts.Token());
        using var afterRevoke = await second.GetAsync("/api/tasks", Timeouts.Token());
        var list = await _node.Admin.GetJsonAsync("/api/keys");
        var audit = await _node.Admin.GetJsonAsync("/api/keys/audit");

        Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, firstStatus);
        Assert.Equal(HttpStatusCode.OK, oldDuringGrace.StatusCode);
        Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, afterRevoke.StatusCode);
        Assert.Contains("revoked", (await TaskApi.ReadAsync(afterRevoke))!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        var listed = list["keys"]!.AsArray().Single(k => k!["id"]!.GetValue<string>() == id)!;
        Assert.Equal("revoked", listed["state"]!.GetValue<string>());
        Assert.Null(listed["key"]);
        Assert.DoesNotContain(created["key"]!.GetValue<string>(), list.ToJsonString(), StringComparison.Ordinal);
        var actions = audit["entries"]!.AsArray().Select(e => $"{e!["actor"]} {e["action"]} {e["status"]}").ToList();
        Assert.Contains("admin-token POST /api/keys 201", actions);
        Assert.Contains($"admin-token DELETE /api/keys/{id} 200", actions);
    }

    [Theory]
    [InlineData("Host", "attacker.example", "Host not local")]
    [InlineData("Origin", "http://attacker.example", "Cross-site request")]
    [InlineData("Origin", "null", "Cross-site request")]
    [InlineData("Sec-Fetch-Site", "cross-site", "Cross-site request")]
    public async Task Submit_FromAWebPage_IsRefusedEvenWithoutContentType(string header, string value, string title)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/tasks/execute") { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(StoreTask)) };
        if (header == "Host")
        {
            request.Headers.Host = value;
        }
        else
        {
            request.Headers.TryAddWithoutValidation(header, value);
        }

        using var response = await _node.Client.SendAsync(request, Timeouts.Token());

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(title, (await TaskApi.ReadAsync(response))!["title"]!.GetValue<string>());
        Assert.Empty((await _node.Admin.GetJsonAsync("/api/tasks"))["items"]!.AsArray());
    }

    [Fact]
    public async Task ForeignHost_WithAValidKeyOrOnHealth_IsServed()
    {
        using var keyed = new HttpRequestMessage(HttpMethod.Get, "/status");
        keyed.Headers.Host = "node.example";
        keyed.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Reader);
        using var health = new HttpRequestMessage(HttpMethod.Get, "/health");
        health.Headers.Host = "node.example";
        using var sameOrigin = new HttpRequestMessage(HttpMethod.Post, "/api/tasks/execute") { Content = Json(StoreTask) };
        sameOrigin.Headers.TryAddWithoutValidation("Origin", _node.BaseAddress.GetLeftPart(UriPartial.Authority));

        using var keyedResponse = await _node.Client.SendAsync(keyed, Timeouts.Token());
        using var healthResponse = await _node.Client.SendAsync(health, Timeouts.Token());
        using var sameOriginResponse = await _node.Client.SendAsync(sameOrigin, Timeouts.Token());

        Assert.Equal(HttpStatusCode.OK, keyedResponse.StatusCode);
        Assert.Equal(HttpStatusCode.OK, healthResponse.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, sameOriginResponse.StatusCode);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}

/// <summary>Nodes configured for one rule each.</summary>
[Trait("Suite", "security")]
public sealed class AccessConfigurationTests
{
    [Fact]
    public async Task RequireAuthOnLoopback_KeylessCaller_Gets401ExceptOnHealth()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["REQUIRE_AUTH_ON_LOOPBACK"] = "true" });

        using var status = await node.Client.GetAsync("/status", Timeouts.Token());
        using var health = await node.Client.GetAsync("/health", Timeouts.Token());
        using var probe = await node.Client.GetAsync("/api/network/bandwidth?bytes=1024", Timeouts.Token());
        using var admin = await node.Admin.GetAsync("/status", Timeouts.Token());

        Assert.Equal(HttpStatusCode.Unauthorized, status.StatusCode);
        Assert.Equal("Bearer", status.Headers.WwwAuthenticate.ToString());
        Assert.Contains("tenzro-node keys create", (await TaskApi.ReadAsync(status))!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, probe.StatusCode);
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
    }

    [Fact]
    public async Task RateLimiter_WithQuotaLoopback_Answers429WithRetryAfterPerCaller()
    {
        const string key = "tnz_rate1_0a1b2c3d4e5f60718293a4b5c6d7e8f9";
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?>
        {
            ["QUOTA_LOOPBACK"] = "true",
            ["QUOTA_TASKS_PER_MINUTE"] = "2",
            ["API_KEYS"] = $"submitter:{key}",
        });
        using var keyed = node.ClientWith(key);

        var first = await node.Client.SubmitAsync("""{"type":"store","data":{"content":"a"}}""");
        var second = await node.Client.SubmitAsync("""{"type":"store","data":{"content":"b"}}""");
        using var third = await node.Client.PostAsync("/api/tasks/execute", new StringContent("""{"type":"store","data":{"content":"c"}}""", Encoding.UTF8, "application/json"), Timeouts.Token());
        var other = await keyed.SubmitAsync("""{"type":"store","data":{"content":"d"}}""");

        Assert.Equal(HttpStatusCode.Accepted, first.Status);
        Assert.Equal(HttpStatusCode.Accepted, second.Status);
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.True(third.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Equal("application/problem+json", third.Content.Headers.ContentType?.MediaType);
        Assert.Contains("QUOTA_TASKS_PER_MINUTE", (await TaskApi.ReadAsync(third))!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Accepted, other.Status);
    }

    [Fact]
    public async Task RateLimiter_Loopback_IsExemptByDefault()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["QUOTA_TASKS_PER_MINUTE"] = "1" });

        var answers = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            answers.Add((await node.Client.SubmitAsync(StoreJson($"{i}"))).Status);
        }

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Accepted, a));
    }

    [Fact]
    public async Task ByteBudgets_OverQueuedOrStoredBytes_RefuseAndShowInResourceStatus()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["QUOTA_QUEUED_BYTES"] = "1500", ["QUOTA_STORED_BYTES"] = "2500" });
        var content = new string('x', 900);
        var big = await node.Client.SubmitAsync(StoreJson(new string('y', 1600)));
        var answers = new List<HttpStatusCode>();
        string? detail = null;
        for (var i = 0; i < 3; i++)
        {
            var (status, body) = await node.Client.SubmitAsync(StoreJson(i + content), "?wait=5s");
            answers.Add(status);
            detail = body?["detail"]?.GetValue<string>() ?? detail;
        }

        var quotas = (await node.Client.GetJsonAsync("/api/resources/status"))["quotas"]!;

        Assert.Equal(HttpStatusCode.ServiceUnavailable, big.Status);
        Assert.Contains("QUOTA_QUEUED_BYTES", big.Body!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable], answers);
        Assert.Contains("QUOTA_STORED_BYTES", detail, StringComparison.Ordinal);
        Assert.Equal(0, quotas["queuedBytes"]!.GetValue<long>());
        Assert.Equal(1500, quotas["queuedBytesLimit"]!.GetValue<long>());
        Assert.InRange(quotas["storedBytes"]!.GetValue<long>(), 1800, 2500);
        Assert.Equal(2500, quotas["storedBytesLimit"]!.GetValue<long>());
    }

    private static string StoreJson(string content) => new JsonObject { ["type"] = "store", ["data"] = new JsonObject { ["content"] = content } }.ToJsonString();

    [Fact]
    public async Task Https_FromTlsCertAndKey_ServesAndReloadsWhenTheFilesChange()
    {
        var directory = TestNode.NewDirectory();
        var certificatePath = Path.Combine(directory, "cert.pem");
        var keyPath = Path.Combine(directory, "key.pem");
        var first = WriteCertificate(certificatePath, keyPath, "CN=first");
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["TLS_CERT_PATH"] = certificatePath, ["TLS_KEY_PATH"] = keyPath });
        var served = await ServedThumbprintAsync(node.BaseAddress);

        var second = WriteCertificate(certificatePath, keyPath, "CN=second");
        var deadline = DateTime.UtcNow + Timeouts.Short;
        var reloaded = served;
        while (reloaded != second && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
            reloaded = await ServedThumbprintAsync(node.BaseAddress);
        }

        Assert.Equal("https", node.BaseAddress.Scheme);
        Assert.Equal(first, served);
        Assert.Equal(second, reloaded);
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public void Tls_OnlyOneOfCertAndKey_IsAConfigurationError()
    {
        var directory = TestNode.NewDirectory();
        var certificatePath = Path.Combine(directory, "cert.pem");
        WriteCertificate(certificatePath, Path.Combine(directory, "key.pem"), "CN=alone");

        var error = Assert.Throws<ConfigurationException>(() => TestNode.Settings(directory, new Dictionary<string, string?> { ["TLS_CERT_PATH"] = certificatePath }));

        Assert.Contains(error.Errors, e => e.Key == "TLS_KEY_PATH");
        Directory.Delete(directory, recursive: true);
    }

    /// <summary>Writes a fresh self-signed certificate for 127.0.0.1 and its key as PEM; returns its thumbprint.</summary>
    private static string WriteCertificate(string certificatePath, string keyPath, string subject)
    {
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest(subject, key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        var names = new System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        return certificate.Thumbprint;
    }

    /// <summary>The thumbprint of the certificate a new TLS connection to <paramref name="address"/> is shown.</summary>
    private static async Task<string> ServedThumbprintAsync(Uri address)
    {
        string? seen = null;
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, certificate, _, _) => (seen = certificate?.Thumbprint) is not null };
        using var client = new HttpClient(handler) { BaseAddress = address };
        using var response = await client.GetAsync("/health", Timeouts.Token());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return seen!;
    }

    [Fact]
    public async Task DashboardSession_FromGetSlashOrAKeyOnce_IsAnHttpOnlyStrictCookie()
    {
        const string key = "tnz_dash1_0a1b2c3d4e5f60718293a4b5c6d7e8f9";
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["API_KEYS"] = $"reader:{key}" });
        await using var strict = await TestNode.StartAsync(new Dictionary<string, string?> { ["API_KEYS"] = $"reader:{key}", ["REQUIRE_AUTH_ON_LOOPBACK"] = "true" });

        using var page = await node.Client.GetAsync("/", Timeouts.Token());
        var cookie = page.Headers.GetValues("Set-Cookie").Single();
        using var keyless = await strict.Client.GetAsync("/status", Timeouts.Token());
        using var started = await strict.ClientWith(key).PostAsync("/api/session", null, Timeouts.Token());
        var session = started.Headers.GetValues("Set-Cookie").Single().Split(';')[0];
        using var withCookie = new HttpRequestMessage(HttpMethod.Get, "/status");
        withCookie.Headers.Add("Cookie", session);
        using var served = await strict.Client.SendAsync(withCookie, Timeouts.Token());
        using var submit = new HttpRequestMessage(HttpMethod.Post, "/api/tasks/execute") { Content = new StringContent(StoreJson("x"), Encoding.UTF8, "application/json") };
        submit.Headers.Add("Cookie", session);
        using var refused = await strict.Client.SendAsync(submit, Timeouts.Token());

        Assert.StartsWith(DashboardSessionsCookie + "=", cookie, StringComparison.Ordinal);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.Unauthorized, keyless.StatusCode);
        Assert.Equal(HttpStatusCode.OK, started.StatusCode);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    private const string DashboardSessionsCookie = "tenzro_session";

    [Fact]
    public async Task PublicHostname_IsAnOwnName()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["PUBLIC_HOSTNAMES"] = "node.example, other.example" });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/tasks");
        request.Headers.Host = "node.example";

        using var response = await node.Client.SendAsync(request, Timeouts.Token());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task ApiKey_GivenAsABareSecret_IsTheAdminKeySentAsItIs()
    {
        const string secret = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978";
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["API_KEY"] = secret, ["REQUIRE_AUTH_ON_LOOPBACK"] = "true" });

        using var asAdmin = new HttpRequestMessage(HttpMethod.Post, "/api/node/drain");
        asAdmin.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", secret);
        using var admitted = await node.Client.SendAsync(asAdmin, Timeouts.Token());
        using var wrong = new HttpRequestMessage(HttpMethod.Post, "/api/node/drain");
        wrong.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "ffffffffffffffffffffffffffffffffffffffffffffffff");
        using var refused = await node.Client.SendAsync(wrong, Timeouts.Token());

        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public void OpenHost_WithoutAnyKey_StopsStartUpSayingHowToMakeOne()
    {
        var directory = TestNode.NewDirectory();
        try
        {
            var settings = TestNode.Settings(directory, new Dictionary<string, string?> { ["HOST"] = "0.0.0.0" });

            var error = Assert.Throws<Cli.StartupRequirementException>(() => NodeApp.Create(settings));

            Assert.Contains("API_KEY", error.Message, StringComparison.Ordinal);
            Assert.Contains("tenzro-node keys create", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("API_KEYS", "writer:tnz_abc_0123456789abcdef0123")]
    [InlineData("API_KEYS", "admin:tnz_abc_short")]
    [InlineData("API_KEY", "secret-but-not-a-key")]
    public void BadKeySetting_IsRejectedWithoutEchoingTheKey(string key, string value)
    {
        var error = Assert.Throws<ConfigurationException>(() => TestNode.Settings(TestNode.NewDirectory(), new Dictionary<string, string?> { [key] = value }));

        Assert.Contains(error.Errors, e => e.Key == key);
        Assert.DoesNotContain(value.Split(':')[^1], error.Message, StringComparison.Ordinal);
    }
}
