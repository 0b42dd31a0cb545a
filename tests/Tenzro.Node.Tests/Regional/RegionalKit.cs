using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Regional;

/// <summary>Helpers for the regional link tests: nodes pointed at a test regional node, polling, task objects, raw clients, certificates.</summary>
public static class RegionalKit
{
    /// <summary>Short intervals, so that heartbeats and reconnects happen within a test's bounded waits.</summary>
    public static Dictionary<string, string?> Settings(Uri regionalUrl, IDictionary<string, string?>? overrides = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["REGIONAL_NODE_URL"] = regionalUrl.ToString(),
            ["HEARTBEAT_INTERVAL"] = "200",
            ["RECONNECT_INTERVAL"] = "100",
            ["RECONNECT_MAX_INTERVAL"] = "500",
            ["MAX_RECONNECT_ATTEMPTS"] = "50",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        return values;
    }

    public static Task<TestNode> StartNodeAsync(Uri regionalUrl, IDictionary<string, string?>? overrides = null, Action<WebApplicationBuilder>? configure = null) =>
        TestNode.StartAsync(Settings(regionalUrl, overrides), configure: configure);

    /// <summary>Polls a JSON endpoint until <paramref name="condition"/> holds; fails the test after the timeout.</summary>
    public static async Task<JsonObject> WaitForJsonAsync(this HttpClient client, string path, Func<JsonObject, bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeouts.Short);
        JsonObject? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = await client.GetJsonAsync(path);
            if (condition(last))
            {
                return last;
            }

            await Task.Delay(25);
        }

        throw new TimeoutException($"waited in vain for {what}; last {path}: {last?.ToJsonString()}");
    }

    public static Task<JsonObject> WaitForRegionalStateAsync(this HttpClient client, string state, TimeSpan? timeout = null) =>
        client.WaitForJsonAsync("/status", s => s["regional"]?["state"]?.GetValue<string>() == state, $"regional.state {state}", timeout);

    /// <summary>A task in the regional form (PROTOCOL.md section 6).</summary>
    public static JsonObject RegionalTask(string taskId, string type, JsonNode? input, JsonObject? requirements = null, double total = 100, double validatorShare = 5, double perNode = 90)
    {
        var now = DateTime.UtcNow;
        return new JsonObject
        {
            ["taskId"] = taskId,
            ["type"] = type,
            ["requirements"] = requirements ?? new JsonObject { ["minTier"] = "inference", ["priority"] = "medium", ["estimatedDuration"] = 60, ["maxNodes"] = 5 },
            ["data"] = new JsonObject { ["input"] = input },
            ["reward"] = new JsonObject { ["total"] = total, ["perNode"] = perNode, ["validatorShare"] = validatorShare, ["deadline"] = Iso(now.AddHours(1)), ["penaltyRate"] = 10 },
            ["status"] = new JsonObject { ["state"] = "pending", ["assignedNodes"] = new JsonArray(), ["acceptedNodes"] = new JsonArray(), ["progress"] = 0 },
            ["timestamp"] = Iso(now),
            ["expiry"] = Iso(now.AddMinutes(10)),
            ["submitter"] = "global-test",
        };
    }

    public static string Iso(DateTime time) => time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A port with nothing listening on it (bound once, then released).</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>A self-signed certificate for 127.0.0.1 and localhost, with its private key, and its PEM.</summary>
    public static (X509Certificate2 Certificate, string Pem) SelfSignedCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=tenzro-test-regional", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, critical: false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certificate = X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
        return (certificate, certificate.ExportCertificatePem());
    }
}

/// <summary>A bare WebSocket client to a test regional node, for messages our node would never send.</summary>
public sealed class RawRegionalClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();

    public static async Task<RawRegionalClient> ConnectAsync(Uri url)
    {
        var client = new RawRegionalClient();
        await client._socket.ConnectAsync(new Uri(url, "/ws"), Timeouts.Token());
        return client;
    }

    public Task SendAsync(JsonObject message) => SendAsync(message.ToJsonString());

    public Task SendAsync(string text) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, Timeouts.Token());

    /// <summary>Reads messages until one of <paramref name="type"/> arrives.</summary>
    public async Task<JsonObject> ReceiveAsync(string type)
    {
        var token = Timeouts.Token();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            using var message = new MemoryStream();
            ValueWebSocketReceiveResult result;
            do
            {
                result = await _socket.ReceiveAsync(buffer.AsMemory(), token);
                message.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);

            if (JsonNode.Parse(message.ToArray()) is JsonObject obj && obj["type"]?.GetValue<string>() == type)
            {
                return obj;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", Timeouts.Token());
        }
        catch (WebSocketException)
        {
        }

        _socket.Dispose();
    }
}
