using System.Net;
using System.Net.Security;
using System.Net.WebSockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Hosting;
using Tenzro.Node.Networking.Peers;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Benchmarks.Peers;

/// <summary>
/// Peer links against a bare TLS 1.3 + WebSocket echo in the same run: link set-up (TCP, mutual TLS with the
/// identity binding, upgrade, signed hellos both ways) against a bare mutual-TLS WebSocket connect to Kestrel, and
/// one message round trip (ping → pong on an open link) against one frame echoed by Kestrel. The node is a real
/// one in this process (P2P_HOST=127.0.0.1, port 0, nothing else on), with the per-peer message quota lifted.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class PeerLinkBenchmarks
{
    private static readonly PeerLinkTimings Unlimited = new() { MessagesPerSecond = int.MaxValue, BytesPerSecond = long.MaxValue };
    private static readonly byte[] PingFrame = Encoding.UTF8.GetBytes("{\"type\":\"ping\",\"id\":1}");
    private WebApplication _node = null!;
    private WebApplication _echo = null!;
    private string _directory = null!;
    private PeerAddress _address = null!;
    private Uri _echoUrl = null!;
    private NodeIdentity _identity = null!;
    private PeerTransport _transport = null!;
    private PeerMetrics _metrics = null!;
    private ReplayGuard _guard = null!;
    private NodeRecord _record = null!;
    private X509Certificate2 _serverCertificate = null!;
    private X509Certificate2 _clientCertificate = null!;
    private PeerLink _link = null!;
    private ClientWebSocket _bare = null!;
    private TaskCompletionSource<double> _pong = new();
    private readonly byte[] _buffer = new byte[4096];

    // The per-peer quota (200 messages a second) would cut either side off as a flood: the benchmark pings as fast as it can.
    [GlobalSetup]
    public async Task SetupAsync()
    {
        _directory = Directory.CreateTempSubdirectory("tenzro-bench-").FullName;
        var settings = NodeSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["PORT"] = "0", ["DATA_DIR"] = _directory, ["BENCHMARK_ON_START"] = "false", ["LOG_LEVEL"] = "warning",
            ["MIN_CPU_CORES"] = "0", ["MIN_MEMORY_GB"] = "0", ["MIN_STORAGE_GB"] = "0",
            ["LOCAL_DISCOVERY_PORT"] = "0", ["RAFT_PORT"] = "0", ["P2P_HOST"] = "127.0.0.1",
            ["LAN_DISCOVERY_ENABLED"] = "false", ["DHT_ENABLED"] = "false",
        }).Build());
        _node = NodeApp.Create(settings, b => b.Services.AddSingleton(Unlimited));
        await _node.StartAsync();
        _address = new PeerAddress(_node.Services.GetRequiredService<NodeIdentity>().NodeId, "127.0.0.1", _node.Services.GetRequiredService<PeerLinkService>().Port);

        _identity = NodeIdentity.CreateEphemeral();
        _transport = new PeerTransport(_identity, TimeProvider.System);
        _metrics = _node.Services.GetRequiredService<PeerMetrics>();
        _guard = new ReplayGuard(TimeProvider.System);
        _record = NodeRecord.Create(_identity, new NodeRecordContent
        {
            Version = "bench", Tier = "inference", QualifiedTier = "inference", Region = "us-east", Arch = "x64",
            Free = new ResourceAmounts(1, 1024, 1024, 0, 0),
        }, 1, DateTimeOffset.UtcNow.AddHours(1));

        _serverCertificate = SelfSigned("CN=echo");
        _clientCertificate = SelfSigned("CN=client");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(new HttpsConnectionAdapterOptions
        {
            ServerCertificate = _serverCertificate,
            SslProtocols = SslProtocols.Tls13,
            ClientCertificateMode = ClientCertificateMode.RequireCertificate,
            ClientCertificateValidation = (certificate, _, _) => certificate.Thumbprint == _clientCertificate.Thumbprint,
        })));
        _echo = builder.Build();
        _echo.UseWebSockets();
        _echo.Map("/echo", EchoAsync);
        await _echo.StartAsync();
        _echoUrl = new Uri(_echo.Urls.First().Replace("https://", "wss://", StringComparison.Ordinal) + "/echo");

        _link = await OpenLinkAsync();
        _link.PongReceived += rtt => _pong.TrySetResult(rtt);
        _ = _link.RunAsync((_, _, _, _) => ValueTask.FromResult(false), CancellationToken.None);
        _bare = await OpenBareAsync();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _link.CloseAsync("benchmark done");
        _bare.Dispose();
        await _echo.StopAsync();
        await _node.StopAsync();
        await _node.DisposeAsync();
        await _echo.DisposeAsync();
        _identity.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>Dial, mutual TLS with the identity check, upgrade, and the signed hellos both ways; then close.</summary>
    [Benchmark]
    public async Task LinkSetup()
    {
        var link = await OpenLinkAsync();
        await link.CloseAsync("benchmark");
        await link.DisposeAsync();
    }

    /// <summary>Baseline: connect a WebSocket over mutual TLS 1.3 to Kestrel; then close.</summary>
    [Benchmark]
    public async Task BareTlsWebSocketSetup()
    {
        using var socket = await OpenBareAsync();
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "benchmark", CancellationToken.None);
    }

    /// <summary>One ping answered by the node's pong on an open link.</summary>
    /// <remarks>
    /// The pong completes the benchmark inline on the link's receive loop, as the bare echo's receive completes it, and
    /// without a timer per iteration, which the bare echo has not either.
    /// </remarks>
    [Benchmark]
    public async Task<double> LinkRoundTrip()
    {
        _pong = new TaskCompletionSource<double>();
        await _link.PingAsync(CancellationToken.None);
        return await _pong.Task;
    }

    /// <summary>Baseline: one frame of the same size echoed by Kestrel.</summary>
    [Benchmark]
    public async Task<int> BareEchoRoundTrip()
    {
        await _bare.SendAsync(PingFrame, WebSocketMessageType.Text, true, CancellationToken.None);
        var result = await _bare.ReceiveAsync(_buffer, CancellationToken.None);
        return result.Count;
    }

    private async Task<PeerLink> OpenLinkAsync()
    {
        var link = new PeerLink(await _transport.DialAsync(_address, CancellationToken.None), Unlimited, TimeProvider.System, _metrics);
        await link.HandshakeAsync(PeerLink.Hello(_record, _guard, _identity), _guard, CancellationToken.None);
        return link;
    }

    private async Task<ClientWebSocket> OpenBareAsync()
    {
        var socket = new ClientWebSocket();
        socket.Options.ClientCertificates = [_clientCertificate];
        socket.Options.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == _serverCertificate.Thumbprint;
        await socket.ConnectAsync(_echoUrl, CancellationToken.None);
        return socket;
    }

    private static async Task EchoAsync(HttpContext context)
    {
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var buffer = new byte[4096];
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, context.RequestAborted);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                return;
            }

            await socket.SendAsync(buffer.AsMemory(0, result.Count), result.MessageType, result.EndOfMessage, context.RequestAborted);
        }
    }

    private static X509Certificate2 SelfSigned(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = new CertificateRequest(subject, key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }
}
