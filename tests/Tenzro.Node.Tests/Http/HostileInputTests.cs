using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Routing;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Http;

/// <summary>
/// Malformed bodies of every kind, sent over real HTTP to every endpoint that takes a body: none answers 500
/// or takes the node down, and the endpoints that read JSON answer 400 problem+json naming the problem.
/// </summary>
[Trait("Suite", "http")]
public sealed class HostileInputTests(HostileInputTests.NodeFixture fixture) : IClassFixture<HostileInputTests.NodeFixture>
{
    /// <summary>Endpoints that read their body as JSON.</summary>
    private static readonly string[] JsonEndpoints = ["POST /api/tasks/execute", "POST /api/keys/"];

    /// <summary>Endpoints that read their body as raw bytes.</summary>
    private static readonly string[] ByteEndpoints = ["PUT /api/models/", "POST /api/network/bandwidth/"];

    /// <summary>Endpoints that take no body: whatever is sent is ignored. The benchmark run is left out (3 s of work per call).</summary>
    private static readonly string[] BodylessEndpoints = ["POST /api/node/drain", "POST /api/node/resume", "POST /api/resources/clear", "POST /api/network/reset", "POST /api/network/bandwidth/measure", "POST /api/session", "POST /api/peers/redial", "POST /api/peers/{id}/block", "POST /api/keys/{id}/rotate"];

    /// <summary>Well-formed JSON with a task field of the wrong type: another endpoint refuses it for its own fields, in its own words.</summary>
    private static readonly string[] TaskFieldBodies = ["wrong type of type", "wrong type of timeout", "wrong type of requirements"];

    private static readonly string[] Unsent = ["POST /api/hardware/benchmark"];

    private readonly TestNode _node = fixture.Node;

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var endpoint in JsonEndpoints.Concat(ByteEndpoints).Concat(BodylessEndpoints))
        {
            foreach (var name in Bodies.Keys)
            {
                data.Add(endpoint, name);
            }
        }

        return data;
    }

    /// <summary>Each hostile body, and a word the 400's detail must contain to say what is wrong.</summary>
    private static readonly Dictionary<string, (byte[] Body, string Says)> Bodies = new()
    {
        ["invalid UTF-8"] = (Bytes("{\"type\":\"store\",\"data\":{\"content\":\""u8, [0xff], "\"}}"u8), "UTF-8"),
        ["truncated UTF-8 sequence"] = (Bytes("{\"type\":\"store\",\"data\":{\"content\":\""u8, [0xe2, 0x82], "\"}}"u8), "UTF-8"),
        ["overlong UTF-8 in a key"] = (Bytes("{\""u8, [0xc0, 0xaf], "\":1,\"type\":\"store\"}"u8), "UTF-8"),
        ["lone surrogate"] = (Encoding.ASCII.GetBytes("""{"type":"store","data":{"content":"\ud800"}}"""), "surrogate"),
        ["lone low surrogate in a key"] = (Encoding.ASCII.GetBytes("""{"\udc00":1,"type":"store"}"""), "surrogate"),
        ["bad JSON"] = (Encoding.ASCII.GetBytes("""{"type":"store","data":"""), "not valid JSON"),
        ["single quotes"] = (Encoding.ASCII.GetBytes("{'type':'store'}"), "not valid JSON"),
        ["trailing garbage"] = (Encoding.ASCII.GetBytes("""{"type":"store"} {}"""), "not valid JSON"),
        ["empty body"] = ([], "empty"),
        ["wrong type of type"] = (Encoding.ASCII.GetBytes("""{"type":5}"""), "type"),
        ["wrong type of timeout"] = (Encoding.ASCII.GetBytes("""{"type":"store","timeout":"10","data":{"content":"x"}}"""), "timeout"),
        ["wrong type of requirements"] = (Encoding.ASCII.GetBytes("""{"type":"store","requirements":[1],"data":{"content":"x"}}"""), "requirements"),
        ["an array, not an object"] = (Encoding.ASCII.GetBytes("""[{"type":"store"}]"""), "object"),
        ["null"] = (Encoding.ASCII.GetBytes("null"), "object"),
        ["nesting 65 levels"] = (Encoding.ASCII.GetBytes("""{"type":"store","data":{"content":""" + new string('[', 63) + new string(']', 63) + "}}"), "64 levels"),
        ["nesting 10000 levels"] = (Encoding.ASCII.GetBytes(new string('[', 10000) + new string(']', 10000)), "64 levels"),
        ["huge exponent"] = (Encoding.ASCII.GetBytes("""{"type":"store","timeout":1e400,"data":{"content":"x"}}"""), "too large"),
        ["huge requirement"] = (Encoding.ASCII.GetBytes("""{"type":"store","requirements":{"memoryMB":-1e999},"data":{"content":"x"}}"""), "too large"),
        ["ten thousand digits"] = (Encoding.ASCII.GetBytes("""{"type":"compute","data":{"args":[""" + new string('9', 10000) + "]}}"), "too large"),
        ["duplicate key"] = (Encoding.ASCII.GetBytes("""{"type":"store","type":"compute","data":{"content":"x"}}"""), "twice"),
        ["nested duplicate key"] = (Encoding.ASCII.GetBytes("""{"type":"store","data":{"content":"x","content":"y"}}"""), "twice"),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task HostileBody_AnyBodyEndpoint_NeverAnswers500AndNodeStaysUp(string endpoint, string bodyName)
    {
        var (body, says) = Bodies[bodyName];
        var (method, path) = Split(endpoint);

        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        // The key endpoints as admin, so that they read what they are sent (a lower role is refused before the body is read);
        // the rest as the keyless loopback caller, so that drain cannot stop the node taking the other cases' tasks.
        var client = path.StartsWith("/api/keys", StringComparison.Ordinal) ? _node.Admin : _node.Client;
        using var response = await client.SendAsync(request, Timeouts.Token());
        var text = await response.Content.ReadAsStringAsync();
        using var live = await _node.Client.GetAsync("/health/live", Timeouts.Token());

        Assert.True((int)response.StatusCode < 500, $"{endpoint} answered {(int)response.StatusCode} to {bodyName}: {text}");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        if (JsonEndpoints.Contains(endpoint))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            if (endpoint == "POST /api/tasks/execute" || !TaskFieldBodies.Contains(bodyName))
            {
                Assert.Contains(says, JsonNode.Parse(text)!["detail"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
            }
        }
        else if (!response.IsSuccessStatusCode)
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task HostileBody_SentAsOctetStreamToModels_Is422NotAModel()
    {
        using var content = new ByteArrayContent(Bodies["invalid UTF-8"].Body);
        content.Headers.ContentType = new("application/octet-stream");
        using var response = await _node.Client.PutAsync("/api/models", content, Timeouts.Token());

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
    }

    [Fact]
    public void BodyEndpoints_EveryPostPutPatchRoute_IsCoveredHere()
    {
        var routes = ((IEndpointRouteBuilder)_node.App).DataSources
            .SelectMany(source => source.Endpoints)
            .OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []).Select(m => $"{m} /{e.RoutePattern.RawText!.TrimStart('/')}"))
            .Where(r => r.StartsWith("POST ", StringComparison.Ordinal) || r.StartsWith("PUT ", StringComparison.Ordinal) || r.StartsWith("PATCH ", StringComparison.Ordinal))
            .ToHashSet();

        Assert.Empty(routes.Except(JsonEndpoints.Concat(ByteEndpoints).Concat(BodylessEndpoints).Concat(Unsent)));
    }

    private static (string Method, string Path) Split(string endpoint)
    {
        var space = endpoint.IndexOf(' ', StringComparison.Ordinal);
        return (endpoint[..space], endpoint[(space + 1)..]);
    }

    private static byte[] Bytes(ReadOnlySpan<byte> head, byte[] middle, ReadOnlySpan<byte> tail) => [.. head, .. middle, .. tail];

    /// <summary>One node for every case: the cases change nothing another case reads.</summary>
    public sealed class NodeFixture : IAsyncLifetime
    {
        public TestNode Node { get; private set; } = null!;

        public async Task InitializeAsync() => Node = await TestNode.StartAsync(new Dictionary<string, string?> { ["BANDWIDTH_PROBE_ENABLED"] = "true" });

        public async Task DisposeAsync() => await Node.DisposeAsync();
    }
}
