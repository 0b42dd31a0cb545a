using System.Net;
using System.Text.Json.Nodes;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Http;

[Trait("Suite", "http")]
public sealed class HttpApiTests : IAsyncLifetime
{
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync();

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task Health_FreshNode_IsHealthyWithNamedChecks()
    {
        var response = await _node.Client.GetAsync("/health", Timeouts.Token());
        var body = await TaskApi.ReadAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("healthy", body!["status"]!.GetValue<string>());
        Assert.Equal("healthy", body["checks"]!["store"]!["status"]!.GetValue<string>());
        Assert.Contains("writable", body["checks"]!["store"]!["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task HealthProbes_FreshNode_Answer200(string path)
    {
        var response = await _node.Client.GetAsync(path, Timeouts.Token());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Ready_WhileDraining_Is503AndRecoversOnResume()
    {
        await _node.Admin.PostAsync("/api/node/drain", null, Timeouts.Token());
        var draining = await _node.Client.GetAsync("/health/ready", Timeouts.Token());
        var live = await _node.Client.GetAsync("/health/live", Timeouts.Token());
        await _node.Admin.PostAsync("/api/node/resume", null, Timeouts.Token());
        var resumed = await _node.Client.GetAsync("/health/ready", Timeouts.Token());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, draining.StatusCode);
        Assert.Contains("draining", await draining.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
    }

    [Fact]
    public async Task Status_FreshNode_HasContractFields()
    {
        var body = await _node.Client.GetJsonAsync("/status");

        Assert.Matches("^[0-9a-f]{64}$", body["peerId"]!.GetValue<string>());
        Assert.Equal("individual", body["nodeType"]!.GetValue<string>());
        Assert.Equal("inference", body["tier"]!["configured"]!.GetValue<string>());
        Assert.Equal("us-east", body["region"]!.GetValue<string>());
        Assert.Equal("disabled", body["regional"]!["state"]!.GetValue<string>());
        Assert.True(body["uptimeSeconds"]!.GetValue<double>() >= 0);
        Assert.Equal(0, body["tasks"]!["completed"]!.GetValue<long>());
        Assert.False(body["draining"]!.GetValue<bool>());
    }

    [Theory]
    [InlineData("GET", "/no-such-route", 404)]
    [InlineData("PUT", "/status", 405)]
    public async Task UnknownRouteOrMethod_AnswersProblemJson(string method, string path, int expected)
    {
        var response = await _node.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path), Timeouts.Token());
        var body = await TaskApi.ReadAsync(response);

        Assert.Equal(expected, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.False(string.IsNullOrWhiteSpace(body!["detail"]?.GetValue<string>()));
    }

    [Fact]
    public async Task Submit_MalformedJson_Is400ProblemJson()
    {
        var (status, body) = await _node.Client.SubmitAsync("{bad");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("not valid JSON", body!["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task Submit_FormEncodedBody_Is415WithAdvice()
    {
        using var content = new StringContent("type=store", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded");
        var response = await _node.Client.PostAsync("/api/tasks/execute", content, Timeouts.Token());
        var body = await TaskApi.ReadAsync(response);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("application/json", body!["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task OpenApi_DescribesTheTaskEndpoints()
    {
        var body = await _node.Client.GetJsonAsync("/openapi/v1.json");
        var paths = body["paths"]!.AsObject();

        Assert.Contains("/api/tasks/execute", paths.Select(p => p.Key));
        Assert.Contains("/status", paths.Select(p => p.Key));
        Assert.Contains("/api/tasks/{taskId}/result", paths.Select(p => p.Key));
    }
}
