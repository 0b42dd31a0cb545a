using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Regional;
using Tenzro.Node.Networking.Regional;

namespace Tenzro.Node.Cli;

/// <summary><c>reset-connections</c>, <c>network-diagnostics</c> and <c>bandwidth</c>.</summary>
internal static partial class NetworkCommands
{
    public static Command ResetConnections()
    {
        var url = ClientCommands.UrlOption();
        var peers = new Option<bool>("--peers") { Description = "Close the peer links instead and dial the tenzro:// entries of BOOTSTRAP_NODES again at once." };
        var command = new Command("reset-connections", "Close the running node's regional link and reconnect at once (clears the failure count); with --peers, redial the peer links.") { url, peers };
        command.SetAction(async (parse, ct) =>
        {
            var baseUrl = parse.GetValue(url) ?? CliApp.DefaultUrl();
            var redialPeers = parse.GetValue(peers);
            using var http = NodeClient.Create(baseUrl, TimeSpan.FromSeconds(10));
            try
            {
                var response = await http.PostAsync(redialPeers ? "/api/peers/redial" : "/api/network/reset", null, ct);
                var text = await response.Content.ReadAsStringAsync(ct);
                var body = text.Length == 0 ? null : JsonNode.Parse(text);
                if (!response.IsSuccessStatusCode)
                {
                    await Console.Error.WriteLineAsync($"The node refused ({(int)response.StatusCode}): {body?["detail"]}");
                    return CliApp.CheckFailed;
                }

                Console.WriteLine(redialPeers
                    ? $"peer links reset: {body?["closed"]} closed, dialling the tenzro:// entries again"
                    : $"regional link reset: reconnecting to {body?["url"]}");
                return CliApp.Ok;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
            {
                await Console.Error.WriteLineAsync($"Cannot reach the node at {baseUrl}: {e.Message}. Is it running? Pass --url to point at it.");
                return CliApp.Unreachable;
            }
        });
        return command;
    }

    public static Command Bandwidth()
    {
        var url = ClientCommands.UrlOption();
        var json = ClientCommands.JsonOption();
        var target = AbsoluteUrlOption(
            "--target",
            "Measure against this http(s) URL instead of BANDWIDTH_TEST_URL, e.g. another node's http://host:8080/api/network/bandwidth.",
            "an http:// or https:// URL",
            "http",
            "https");
        var command = new Command(
            "bandwidth",
            "Make the running node measure its bandwidth now (download, upload, round trip; up to 10 s each way) against BANDWIDTH_TEST_URL, whose figure node_status reports (unless BANDWIDTH_MBPS is set), or against --target, to check a link without changing what is reported.")
        { url, json, target };
        command.SetAction(async (parse, ct) =>
        {
            var path = parse.GetValue(target) is { } explicitTarget
                ? "/api/network/bandwidth/measure?target=" + Uri.EscapeDataString(explicitTarget.ToString())
                : "/api/network/bandwidth/measure";
            Console.Error.WriteLine("measuring (up to 10 s each way)...");
            var (code, body, error) = await ClientCommands.SendAsync(parse.GetValue(url), HttpMethod.Post, path, TimeSpan.FromSeconds(120), ct);
            if (error is not null)
            {
                return ClientCommands.Unreachable(error);
            }

            if (code is < 200 or > 299)
            {
                await Console.Error.WriteLineAsync($"The node answered {code}: {body?["detail"] ?? body?.ToJsonString() ?? "no JSON body"}");
                return CliApp.CheckFailed;
            }

            if (parse.GetValue(json))
            {
                Console.WriteLine(body?.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return CliApp.Ok;
            }

            var measurement = body?["measurement"];
            Console.WriteLine($"target:     {measurement?["target"]}");
            Console.WriteLine($"download:   {measurement?["downloadMbps"]} Mbps ({measurement?["downloadBytes"]} bytes)");
            Console.WriteLine($"upload:     {(measurement?["uploadMbps"] is { } up ? $"{up} Mbps ({measurement?["uploadBytes"]} bytes)" : "not measured")}");
            Console.WriteLine($"round trip: {measurement?["latencyMs"]} ms");
            if (measurement?["error"] is { } note)
            {
                Console.WriteLine($"note:       {note}");
            }

            var reported = body?["bandwidthMbps"] is { } mbps ? $"{mbps} Mbps ({body?["bandwidthSource"]})" : "unknown";
            Console.WriteLine(body?["reported"]?.GetValue<bool>() == true
                ? $"reported:   {reported}"
                : $"reported:   {reported}; this target is not BANDWIDTH_TEST_URL, so its figures are not reported");
            return CliApp.Ok;
        });
        return command;
    }

    public static Command NetworkDiagnostics()
    {
        var regionalUrl = AbsoluteUrlOption(
            "--regional-url",
            "The regional node to check (default: REGIONAL_NODE_URL, else the first BOOTSTRAP_NODES entry, read like the node reads them).",
            "a ws:// or wss:// URL",
            "ws",
            "wss");
        var timeout = new Option<double>("--timeout") { Description = "Seconds allowed for each step.", DefaultValueFactory = _ => 10 };
        var url = ClientCommands.UrlOption();
        var command = new Command(
            "network-diagnostics",
            "Check the way to the regional node step by step (resolve the name, TCP connect, TLS handshake, WebSocket upgrade, join round trip), then each tenzro:// entry of BOOTSTRAP_NODES (TCP, TLS, identity, hello), each udp:// entry (DHT ping, self-lookup), then, when LAN discovery is on, the running node's mDNS state per interface. Each check stops at its first failing step; exit 1 if any failed.")
        { regionalUrl, timeout, url };
        command.SetAction(async (parse, ct) =>
        {
            NodeSettings settings;
            try
            {
                var configuration = NodeSettings.BuildConfiguration([], NodeSettings.ProcessEnvironment(), Path.Combine(Directory.GetCurrentDirectory(), ".env"));
                settings = NodeSettings.Load(configuration);
            }
            catch (ConfigurationException e)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return ConfigurationException.ExitCode;
            }

            var target = parse.GetValue(regionalUrl) is { } explicitUrl ? RegionalEndpoint.WithPath(explicitUrl) : RegionalEndpoint.Resolve(settings.Network);
            var peers = settings.Network.BootstrapPeers;
            var lan = settings.Network.LanDiscoveryEnabled;
            var dhtContacts = settings.Network.DhtContacts;
            if (target is null && peers.Count == 0 && dhtContacts.Count == 0 && !lan)
            {
                Console.WriteLine("No REGIONAL_NODE_URL or BOOTSTRAP_NODES set: the node runs standalone, there is no regional node or peer to check. Pass --regional-url to check one.");
                return CliApp.CheckFailed;
            }

            var stepTimeout = TimeSpan.FromSeconds(Math.Max(0.1, parse.GetValue(timeout)));
            var ok = target is null || await new Diagnostics(target, settings, stepTimeout).RunAsync(ct);
            foreach (var peer in peers)
            {
                ok &= await CheckPeerAsync(peer, settings, stepTimeout, ct);
            }

            foreach (var contact in dhtContacts)
            {
                ok &= await CheckDhtContactAsync(contact, stepTimeout, ct);
            }

            if (lan)
            {
                ok &= await CheckLanAsync(parse.GetValue(url) ?? CliApp.DefaultUrl(), stepTimeout, ct);
            }

            return ok ? CliApp.Ok : CliApp.CheckFailed;
        });
        return command;
    }

    /// <summary>An option that takes an absolute URL with one of <paramref name="schemes"/>; anything else is a parse error (exit 2) saying it is not <paramref name="expected"/>.</summary>
    private static Option<Uri?> AbsoluteUrlOption(string name, string description, string expected, params string[] schemes) => new(name)
    {
        Description = description,
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
            if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && schemes.Contains(uri.Scheme, StringComparer.OrdinalIgnoreCase))
            {
                return uri;
            }

            result.AddError($"{name} '{text}' is not {expected}.");
            return null;
        },
    };

    /// <summary>The steps of <c>network-diagnostics</c>, each printed as it ends.</summary>
    private sealed class Diagnostics(Uri url, NodeSettings settings, TimeSpan stepTimeout)
    {
        private IPAddress[] _addresses = [];

        public async Task<bool> RunAsync(CancellationToken cancellationToken)
        {
            Console.WriteLine($"regional node: {url}");
            if (RegionalEndpoint.TransportRefusal(url, settings.Network.AllowInsecureTransport) is { } refusal)
            {
                Report(false, "transport", refusal, TimeSpan.Zero);
                return false;
            }

            RegionalTrust trust;
            try
            {
                trust = RegionalTrust.Load(settings.Network.RegionalCaCertificate);
            }
            catch (RegionalLinkException e)
            {
                Report(false, "trust", e.Message, TimeSpan.Zero);
                return false;
            }

            // The WebSocket steps dial through the link's own transport, so they open the link exactly as the node does
            // (its trust, keep-alive and message size limit).
            using (trust)
            using (var transport = new WebSocketRegionalTransport(settings.Network))
            {
                return await StepAsync("resolve", ResolveAsync, stepTimeout, cancellationToken)
                    && await StepAsync("tcp", TcpAsync, stepTimeout, cancellationToken)
                    && await StepAsync("tls", ct => TlsAsync(trust, ct), stepTimeout, cancellationToken)
                    && await StepAsync("websocket", ct => UpgradeAsync(transport, ct), stepTimeout, cancellationToken)
                    && await StepAsync("join", ct => JoinAsync(transport, ct), stepTimeout, cancellationToken);
            }
        }

        private async Task<string> ResolveAsync(CancellationToken cancellationToken)
        {
            if (IPAddress.TryParse(url.DnsSafeHost, out var literal))
            {
                _addresses = [literal];
                return $"{literal} (an address, nothing to resolve)";
            }

            _addresses = await Dns.GetHostAddressesAsync(url.DnsSafeHost, cancellationToken);
            if (_addresses.Length == 0)
            {
                throw new DiagnosticException($"{url.DnsSafeHost} resolves to no address");
            }

            return $"{url.DnsSafeHost} -> {string.Join(", ", _addresses.Select(a => a.ToString()))}";
        }

        private async Task<string> TcpAsync(CancellationToken cancellationToken)
        {
            using var socket = await ConnectTcpAsync(cancellationToken);
            return $"connected to {socket.RemoteEndPoint}";
        }

        private async Task<string> TlsAsync(RegionalTrust trust, CancellationToken cancellationToken)
        {
            if (url.Scheme != "wss")
            {
                return "skipped: ws:// is not encrypted" + (url.IsLoopback ? " (loopback)" : " (allowed by ALLOW_INSECURE_TRANSPORT)");
            }

            using var socket = await ConnectTcpAsync(cancellationToken);
            await using var stream = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
            string? failure = null;
            var options = new SslClientAuthenticationOptions
            {
                TargetHost = url.DnsSafeHost,
                RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
                {
                    var valid = trust.Validate(sender, certificate, chain, errors);
                    failure = valid ? null : $"certificate {certificate?.Subject} is not trusted ({errors}){(trust.CaPath is null ? "; set REGIONAL_CA_CERT to the PEM CA certificate that issued it" : $"; REGIONAL_CA_CERT {trust.CaPath} does not vouch for it")}";
                    return valid;
                },
            };
            try
            {
                await stream.AuthenticateAsClientAsync(options, cancellationToken);
            }
            catch (System.Security.Authentication.AuthenticationException) when (failure is not null)
            {
                throw new DiagnosticException(failure);
            }

            var certificate = stream.RemoteCertificate;
            return $"{stream.SslProtocol}, certificate {certificate?.Subject} issued by {certificate?.Issuer}";
        }

        private async Task<string> UpgradeAsync(IRegionalTransport transport, CancellationToken cancellationToken)
        {
            await using var connection = await transport.ConnectAsync(url, cancellationToken);
            await connection.CloseAsync("diagnostics", cancellationToken);
            return $"upgraded at {url.AbsolutePath}";
        }

        private async Task<string> JoinAsync(IRegionalTransport transport, CancellationToken cancellationToken)
        {
            // A throwaway identity: joining with the node's own peerId would replace the running node's registration.
            using var identity = NodeIdentity.CreateEphemeral("diagnostics-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)));
            await using var connection = await transport.ConnectAsync(url, cancellationToken);
            var join = SignedEnvelope.Sign(
                RegionalMessages.Join(identity.PeerId, settings.Node.NodeType, settings.Node.NodeTier, settings.Node.Region, 0),
                identity,
                DateTimeOffset.UtcNow);
            var watch = Stopwatch.StartNew();
            await connection.SendAsync(join.ToJsonString(), cancellationToken);
            while (true)
            {
                var message = await ReceiveObjectAsync(connection, cancellationToken);
                switch (RegionalMessages.TypeOf(message))
                {
                    case RegionalMessageTypes.NetworkState:
                        var roundTrip = watch.Elapsed;
                        var peers = (message["peers"] as JsonArray)?.Count ?? 0;
                        var leave = SignedEnvelope.Sign(RegionalMessages.Leave(identity.PeerId), identity, DateTimeOffset.UtcNow);
                        await connection.SendAsync(leave.ToJsonString(), cancellationToken);
                        await connection.CloseAsync("diagnostics", cancellationToken);
                        return $"network_state after {roundTrip.TotalMilliseconds:F1} ms as {identity.PeerId}: {peers} peer(s) listed; left again";
                    case RegionalMessageTypes.Error:
                        throw new DiagnosticException($"the regional node refused the join: {message["error"]}");
                }
            }
        }

        /// <summary>The next readable message as a JSON object; frames the link drops (binary, oversized) are skipped.</summary>
        private static async Task<JsonObject> ReceiveObjectAsync(IRegionalConnection connection, CancellationToken cancellationToken)
        {
            while (true)
            {
                var frame = await connection.ReceiveAsync(cancellationToken);
                switch (frame.Kind)
                {
                    case RegionalFrameKind.Text:
                        return JsonNode.Parse(frame.Utf8) as JsonObject ?? throw new DiagnosticException("the regional node sent something that is not a JSON object");
                    case RegionalFrameKind.Closed or RegionalFrameKind.Silent:
                        throw new DiagnosticException(frame.Text ?? "the regional node closed the link");
                }
            }
        }

        private async Task<Socket> ConnectTcpAsync(CancellationToken cancellationToken)
        {
            Exception? last = null;
            foreach (var address in _addresses)
            {
                var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(address, url.Port), cancellationToken);
                    return socket;
                }
                catch (SocketException e)
                {
                    socket.Dispose();
                    last = e;
                }
            }

            throw new DiagnosticException($"no address of {url.DnsSafeHost} accepts connections on port {url.Port}: {last?.Message}");
        }
    }

    /// <summary>Runs one diagnostics step under <paramref name="stepTimeout"/> and prints its line; false when it failed.</summary>
    private static async Task<bool> StepAsync(string name, Func<CancellationToken, Task<string>> step, TimeSpan stepTimeout, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(stepTimeout);
        var watch = Stopwatch.StartNew();
        try
        {
            var detail = await step(timeout.Token);
            Report(true, name, detail, watch.Elapsed);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Report(false, name, $"no answer within {stepTimeout.TotalSeconds} s", watch.Elapsed);
        }
        catch (Exception e) when (e is SocketException or IOException or WebSocketException or System.Security.Authentication.AuthenticationException or DiagnosticException or JsonException or HttpRequestException or Networking.Peers.PeerLinkException)
        {
            Report(false, name, Describe(e), watch.Elapsed);
        }

        return false;
    }

    private static void Report(bool ok, string step, string detail, TimeSpan elapsed) =>
        Console.WriteLine($"  {(ok ? "ok  " : "FAIL")} {step,-10} {detail} ({elapsed.TotalMilliseconds:F1} ms)");

    private static string Describe(Exception e)
    {
        var parts = new List<string>();
        for (var current = e; current is not null; current = current.InnerException)
        {
            if (!parts.Any(p => p.Contains(current.Message, StringComparison.Ordinal)))
            {
                parts.Add(current.Message);
            }
        }

        return string.Join(": ", parts);
    }

    private sealed class DiagnosticException(string message) : Exception(message);
}
