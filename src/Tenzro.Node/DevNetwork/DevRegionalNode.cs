using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Regional;

namespace Tenzro.Node.DevNetwork;

/// <summary>How a <see cref="DevRegionalNode"/> behaves.</summary>
internal sealed record DevRegionalOptions
{
    /// <summary>Section 10.4: bind a peerId to the key of its first valid signed join; later bad signatures get <c>error</c> "Invalid signature".</summary>
    public bool Verifying { get; init; }

    /// <summary>When false, a join gets no <c>network_state</c> (to test the join timeout).</summary>
    public bool AnswerJoin { get; init; } = true;

    /// <summary>Serve wss:// with this certificate (with its private key).</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>Sign every message it sends itself with this key (the original regional node signs nothing).</summary>
    public Tenzro.Node.Core.Identity.NodeIdentity? Signer { get; init; }
}

/// <summary>A message a <see cref="DevRegionalNode"/> received.</summary>
internal sealed record ReceivedMessage(int Connection, int Index, JsonObject Message, string Raw)
{
    public string? Type => RegionalMessages.TypeOf(Message);

    public string? PeerId => RegionalMessages.StringMember(Message, "peerId");

    public string? TaskId => RegionalMessages.StringMember(Message, "taskId");
}

/// <summary>
/// The development regional node (<c>tenzro-node dev-regional</c>, and the one <c>dev-network</c> and the tests
/// start), speaking the protocol as docs/PROTOCOL.md (sections 1-9) describes the real one, quirks included: the first frame should be <c>join</c>, answered by <c>network_state</c> (and
/// <c>peer_joined</c> to the others of the region); unknown types are ignored; <c>task_completed</c> must
/// follow <c>task_accepted</c> (else "Task completion failed") and a falsy result is dropped;
/// <c>node_status</c> replaces the stored status wholesale and is dropped unless its peer joined and it has a
/// <c>status</c>; an evicted peer's socket is never closed. It sends <c>task_assignment</c> as a regional
/// validator would (with the selection of section 7) and <c>reward_distribution</c> once all accepted nodes
/// completed, and can verify signatures (section 10.4). Kestrel on 127.0.0.1 unless told otherwise.
/// Besides <c>/ws</c> it answers <c>GET /health</c>, <c>GET /status</c> (peers and tasks), <c>POST /tasks</c>
/// (assign a task as the region's validator would) and <c>GET /tasks/{taskId}</c> (who took it, results).
/// </summary>
/// <remarks>Thread-safe: every member may be called while nodes are connected.</remarks>
internal sealed partial class DevRegionalNode : IAsyncDisposable
{
    public const string SelfPeerId = "regional-dev";
    public const string RegionName = "us-east";

    private static readonly Dictionary<string, (string[] Tiers, double MinReward, double ValidatorShare)> TaskTypes = new()
    {
        ["compute"] = (["training", "feedback"], 100, 10),
        ["train"] = (["training", "feedback"], 100, 10),
        ["verify"] = (["training", "feedback"], 75, 10),
        ["update"] = (["training", "feedback"], 50, 10),
        ["process"] = (["aggregator", "training", "feedback"], 50, 10),
        ["aggregate"] = (["aggregator", "training", "feedback"], 50, 10),
        ["validate"] = (["aggregator", "training", "feedback"], 50, 10),
        ["report"] = (["aggregator", "training", "feedback"], 30, 5),
        ["store"] = (["inference", "aggregator", "training", "feedback"], 20, 5),
        ["dispute"] = (["feedback"], 100, 15),
    };

    private static readonly Dictionary<string, int> TierTaskLimit = new() { ["inference"] = 5, ["aggregator"] = 10, ["training"] = 15, ["feedback"] = 20 };

    private readonly WebApplication _app;
    private readonly DevRegionalOptions _options;
    private readonly Lock _lock = new();
    private readonly List<ReceivedMessage> _received = [];
    private readonly Dictionary<int, Connection> _connections = [];
    private readonly List<Peer> _peers = [];
    private readonly Dictionary<string, RegionalTask> _tasks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _boundKeys = new(StringComparer.Ordinal);
    private readonly List<(int Connection, string Error)> _errorsSent = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _nextConnection;
    private int _firstFrameViolations;
    private double _totalRewards;

    private DevRegionalNode(WebApplication app, DevRegionalOptions options)
    {
        _app = app;
        _options = options;
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        Port = address.Port;
        _peers.Add(new Peer(SelfPeerId, "regional_node", "aggregator", RegionName, 1000, null));
    }

    public int Port { get; }

    /// <summary>The URL a node is given: no path, so the node appends <c>/ws</c>.</summary>
    public Uri Url => new($"{(_options.Certificate is null ? "ws" : "wss")}://127.0.0.1:{Port}");

    /// <summary>Frames that arrived as the first frame of a connection without being a join.</summary>
    public int FirstFrameViolations
    {
        get
        {
            lock (_lock)
            {
                return _firstFrameViolations;
            }
        }
    }

    /// <summary>Starts listening on <paramref name="address"/> (127.0.0.1 by default) and <paramref name="port"/> (0: a free one).</summary>
    public static async Task<DevRegionalNode> StartAsync(DevRegionalOptions? options = null, int port = 0, IPAddress? address = null)
    {
        options ??= new DevRegionalOptions();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();

        // Whoever starts it stops it: without this the console lifetime would take SIGTERM and Ctrl-C for itself.
        builder.Services.AddSingleton<IHostLifetime, StartedByCallerLifetime>();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(address ?? IPAddress.Loopback, port, listen =>
        {
            if (options.Certificate is { } certificate)
            {
                listen.UseHttps(certificate);
            }
        }));
        var app = builder.Build();
        DevRegionalNode? node = null;
        app.UseWebSockets();
        app.Map("/ws", context => node!.AcceptAsync(context));
        MapHttpApi(app, () => node!);
        using var startTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await app.StartAsync(startTimeout.Token);
        node = new DevRegionalNode(app, options);
        return node;
    }

    public IReadOnlyList<ReceivedMessage> Received()
    {
        lock (_lock)
        {
            return [.. _received];
        }
    }

    /// <summary>The texts of the errors this node sent on one connection.</summary>
    public IReadOnlyList<string> ErrorsSentTo(int connection)
    {
        lock (_lock)
        {
            return [.. _errorsSent.Where(e => e.Connection == connection).Select(e => e.Error)];
        }
    }

    /// <summary>The status the peer last reported (stored wholesale), or null.</summary>
    public JsonObject? StatusOf(string peerId)
    {
        lock (_lock)
        {
            return (JsonObject?)_peers.FirstOrDefault(p => p.PeerId == peerId)?.Status?.DeepClone();
        }
    }

    public bool IsJoined(string peerId)
    {
        lock (_lock)
        {
            return _peers.Any(p => p.PeerId == peerId);
        }
    }

    /// <summary>The key bound to a peerId in verifying mode.</summary>
    public byte[]? BoundKey(string peerId)
    {
        lock (_lock)
        {
            return _boundKeys.GetValueOrDefault(peerId);
        }
    }

    /// <summary>Binds a peerId to a key before it joins (as if it had joined earlier with that key).</summary>
    public void BindKey(string peerId, byte[]? key)
    {
        lock (_lock)
        {
            if (key is null)
            {
                _boundKeys.Remove(peerId);
            }
            else
            {
                _boundKeys[peerId] = key;
            }
        }
    }

    /// <summary>Waits until a received message matches; throws <see cref="TimeoutException"/> after <paramref name="timeout"/> (10 s by default).</summary>
    public async Task<ReceivedMessage> WaitForAsync(Func<ReceivedMessage, bool> predicate, string what, TimeSpan? timeout = null)
    {
        ReceivedMessage? hit = null;
        await WaitUntilAsync(() => (hit = _received.FirstOrDefault(predicate)) is not null, what, timeout);
        return hit!;
    }

    /// <summary>Waits until <paramref name="condition"/> (evaluated under the node's lock) holds.</summary>
    public async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (condition())
                {
                    return;
                }

                changed = _changed.Task;
            }

            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                throw new TimeoutException($"the development regional node waited in vain for {what}; received: {string.Join(" | ", Received().Where(m => m.Type != "node_status").Select(m => m.Raw.Length > 400 ? m.Raw[..400] : m.Raw))}");
            }

            await Task.WhenAny(changed, Task.Delay(remaining));
        }
    }

    /// <summary>
    /// Sends a task as the regional node's own validator (a regional_node peer of the region) would with
    /// <c>task_assignment</c>: section 7 selects the nodes. Returns the peerIds it went to.
    /// </summary>
    /// <exception cref="InvalidOperationException">The server would answer the validator "Task assignment failed".</exception>
    public async Task<IReadOnlyList<string>> AssignAsync(JsonObject task)
    {
        task = Parsed(task);
        var (targets, copy) = Select(task, RegionName);
        foreach (var (connection, _) in targets)
        {
            await connection.SendAsync(new JsonObject { ["type"] = "task_assignment", ["task"] = copy.DeepClone() });
        }

        return [.. targets.Select(t => t.PeerId)];
    }

    /// <summary>Sends a task_assignment straight to one peer (the server's forwarding step), recording it as assigned to that peer.</summary>
    public async Task SendAssignmentAsync(string peerId, JsonObject task)
    {
        task = Parsed(task);
        Connection connection;
        lock (_lock)
        {
            connection = ConnectionOf(peerId);
            var copy = (JsonObject)task.DeepClone();
            copy["status"] = new JsonObject { ["state"] = "assigned", ["assignedNodes"] = new JsonArray(peerId), ["acceptedNodes"] = new JsonArray(), ["progress"] = 0 };
            _tasks[RegionalMessages.StringMember(copy, "taskId")!] = new RegionalTask(copy, [peerId]);
            task = copy;
        }

        await connection.SendAsync(new JsonObject { ["type"] = "task_assignment", ["task"] = task });
    }

    /// <summary>Sends a raw text frame to the connection of <paramref name="peerId"/>.</summary>
    public Task SendRawAsync(string peerId, string text)
    {
        Connection connection;
        lock (_lock)
        {
            connection = ConnectionOf(peerId);
        }

        return connection.SendTextAsync(text);
    }

    public Task SendAsync(string peerId, JsonObject message) => SendRawAsync(peerId, message.ToJsonString());

    public Task SendRewardAsync(string peerId, string taskId, double reward) =>
        SendAsync(peerId, new JsonObject { ["type"] = "reward_distribution", ["taskId"] = taskId, ["reward"] = reward, ["timestamp"] = Now() });

    /// <summary>Evicts a peer as the idle sweep does: the region is told, the socket is left open and nobody tells the peer.</summary>
    public async Task EvictAsync(string peerId)
    {
        Peer? peer;
        lock (_lock)
        {
            peer = _peers.FirstOrDefault(p => p.PeerId == peerId);
            if (peer is not null)
            {
                _peers.Remove(peer);
            }
        }

        if (peer is not null)
        {
            await BroadcastToRegionAsync(peer.Region, peerId, new JsonObject { ["type"] = "peer_left", ["peerId"] = peerId, ["region"] = peer.Region, ["timestamp"] = Now() });
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<Connection> connections;
        lock (_lock)
        {
            connections = [.. _connections.Values];
        }

        foreach (var connection in connections)
        {
            connection.Abort();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }

    /// <summary>A copy read back from text, as a task that came over the wire (every number JSON-backed).</summary>
    private static JsonObject Parsed(JsonObject task) => JsonNode.Parse(task.ToJsonString())!.AsObject();

    private static string Now() => Now(DateTime.UtcNow);

    private Connection ConnectionOf(string peerId) =>
        _peers.FirstOrDefault(p => p.PeerId == peerId)?.Connection ?? throw new InvalidOperationException($"peer {peerId} has not joined");

    private void Changed()
    {
        var previous = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        previous.TrySetResult();
    }

    private async Task AcceptAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = 400;
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        Connection connection;
        lock (_lock)
        {
            connection = new Connection(++_nextConnection, socket, _options.Signer);
            _connections[connection.Id] = connection;
        }

        try
        {
            var first = true;
            while (await ReceiveAsync(socket) is { } text)
            {
                JsonObject? message;
                try
                {
                    message = JsonNode.Parse(text) as JsonObject;
                }
                catch (JsonException)
                {
                    message = null;
                }

                if (message is null)
                {
                    await SendErrorAsync(connection, "Message processing failed");
                    continue;
                }

                lock (_lock)
                {
                    if (first && RegionalMessages.TypeOf(message) != "join")
                    {
                        _firstFrameViolations++;
                    }

                    _received.Add(new ReceivedMessage(connection.Id, _received.Count, message, text));
                    Changed();
                }

                first = false;
                await HandleAsync(connection, message);
            }
        }
        finally
        {
            await DisconnectedAsync(connection);
        }
    }

    private static async Task<string?> ReceiveAsync(WebSocket socket)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return null;
                }

                message.Write(buffer, 0, result.Count);
                if (message.Length > 100 * 1024 * 1024)
                {
                    return null;
                }

                if (result.EndOfMessage)
                {
                    return Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            return null;
        }
    }

    private async Task HandleAsync(Connection connection, JsonObject message)
    {
        var type = RegionalMessages.TypeOf(message);
        var peerId = RegionalMessages.StringMember(message, "peerId");
        if (_options.Verifying && peerId is not null && !VerifiedOrLegacy(type, peerId, message))
        {
            await SendErrorAsync(connection, "Invalid signature");
            return;
        }

        switch (type)
        {
            case "join":
                await JoinAsync(connection, message);
                break;
            case "leave":
                await LeaveAsync(peerId);
                break;
            case "node_status":
                lock (_lock)
                {
                    // Dropped silently unless the peer joined and a status is present; a status replaces the old one wholesale.
                    if (_peers.FirstOrDefault(p => p.PeerId == peerId) is { } peer && message["status"] is JsonObject status)
                    {
                        peer.Status = (JsonObject)status.DeepClone();
                        Changed();
                    }
                }

                break;
            case "task_accepted":
                await AcceptTaskAsync(connection, peerId, RegionalMessages.StringMember(message, "taskId"));
                break;
            case "task_completed":
                await CompleteTaskAsync(connection, peerId, RegionalMessages.StringMember(message, "taskId"), message["result"]);
                break;
            case "task_assignment":
                await ValidatorAssignmentAsync(connection, peerId, message["task"] as JsonObject);
                break;
            default:
                // task_failed, task_rejected, task_progress, heartbeat and unknown types: recorded, no state change, no reply.
                break;
        }
    }

    /// <summary>Section 10.4, as a verifying regional node applies it.</summary>
    private bool VerifiedOrLegacy(string? type, string peerId, JsonObject message)
    {
        byte[]? bound;
        lock (_lock)
        {
            bound = _boundKeys.GetValueOrDefault(peerId);
        }

        var signed = message.ContainsKey("signature") || message.ContainsKey("publicKey");
        if (!signed)
        {
            return bound is null;
        }

        var verdict = SignedEnvelope.Verify(message, DateTimeOffset.UtcNow, bound);
        if (!verdict.IsValid)
        {
            return false;
        }

        if (bound is null && type == "join")
        {
            lock (_lock)
            {
                _boundKeys[peerId] = verdict.PublicKey!;
            }
        }

        return true;
    }

    private async Task JoinAsync(Connection connection, JsonObject message)
    {
        var peerId = RegionalMessages.StringMember(message, "peerId");
        var nodeType = RegionalMessages.StringMember(message, "nodeType");
        var nodeTier = RegionalMessages.StringMember(message, "nodeTier");
        var region = RegionalMessages.StringMember(message, "region");
        if (peerId is null || nodeType is null || nodeTier is null || region is null)
        {
            await SendErrorAsync(connection, "Invalid join message format");
            return;
        }

        var tokens = message["tokenBalance"] is JsonValue v && v.TryGetValue<double>(out var t) ? t : 0;
        var allowed = nodeType switch
        {
            "individual" => true,
            "regional_node" => nodeTier is "aggregator" or "training" && tokens >= 1000,
            "global_node" => nodeTier is "training" or "feedback" && tokens >= 5000,
            _ => false,
        };
        if (!allowed)
        {
            await SendErrorAsync(connection, "Insufficient tier or tokens for validator role");
            return;
        }

        var peer = new Peer(peerId, nodeType, nodeTier, region, tokens, connection);
        JsonObject state;
        lock (_lock)
        {
            _peers.RemoveAll(p => p.PeerId == peerId);
            _peers.Add(peer);
            state = new JsonObject
            {
                ["type"] = "network_state",
                ["peers"] = new JsonArray([.. _peers.Select(p => (JsonNode)p.Info())]),
                ["regions"] = new JsonArray(new JsonObject
                {
                    ["id"] = RegionName,
                    ["name"] = RegionName,
                    ["peerCount"] = _peers.Count(p => p.Region == RegionName),
                    ["validatorCount"] = _peers.Count(p => p.Region == RegionName && p.NodeType != "individual"),
                    ["metrics"] = new JsonObject
                    {
                        ["totalTasks"] = _tasks.Count,
                        ["completedTasks"] = _tasks.Values.Count(x => x.Completed),
                        ["activeNodes"] = _peers.Count,
                        ["totalRewards"] = _totalRewards,
                        ["averageCompletionTime"] = 0,
                        ["successRate"] = 0,
                    },
                }),
                ["activeTasks"] = _tasks.Values.Count(x => !x.Completed),
                ["completedTasks"] = _tasks.Values.Count(x => x.Completed),
                ["totalRewardsDistributed"] = _totalRewards,
                ["timestamp"] = Now(),
            };
            Changed();
        }

        if (_options.AnswerJoin)
        {
            await connection.SendAsync(state);
        }

        await BroadcastToRegionAsync(region, peerId, new JsonObject { ["type"] = "peer_joined", ["peerInfo"] = peer.Info(), ["timestamp"] = Now() });
    }

    private async Task LeaveAsync(string? peerId)
    {
        Peer? peer;
        lock (_lock)
        {
            peer = _peers.FirstOrDefault(p => p.PeerId == peerId && p.Connection is not null);
            if (peer is not null)
            {
                _peers.Remove(peer);
                Changed();
            }
        }

        if (peer is not null)
        {
            await BroadcastToRegionAsync(peer.Region, peer.PeerId, new JsonObject { ["type"] = "peer_left", ["peerId"] = peer.PeerId, ["region"] = peer.Region, ["timestamp"] = Now() });
        }
    }

    private async Task AcceptTaskAsync(Connection connection, string? peerId, string? taskId)
    {
        var ok = false;
        lock (_lock)
        {
            if (peerId is not null && taskId is not null && _tasks.TryGetValue(taskId, out var task) && task.Assigned.Contains(peerId))
            {
                ok = true;
                task.Accepted.Add(peerId);
                task.StartedAt ??= DateTime.UtcNow;
                Changed();
            }
        }

        if (!ok)
        {
            await SendErrorAsync(connection, "Task acceptance failed");
        }
    }

    private async Task CompleteTaskAsync(Connection connection, string? peerId, string? taskId, JsonNode? result)
    {
        RegionalTask? task = null;
        bool ok;
        lock (_lock)
        {
            ok = peerId is not null && taskId is not null && _tasks.TryGetValue(taskId, out task) && task.Accepted.Contains(peerId);
        }

        if (!ok)
        {
            await SendErrorAsync(connection, "Task completion failed");
            return;
        }

        if (IsFalsy(result))
        {
            return;
        }

        List<(Connection Connection, double Reward)> rewards = [];
        lock (_lock)
        {
            task!.Results[peerId!] = result!.DeepClone();
            if (!task.Completed && task.Accepted.All(task.Results.ContainsKey))
            {
                task.Completed = true;
                var perNode = task.Body["reward"]?["perNode"]?.GetValue<double>() ?? 0;
                var penaltyRate = task.Body["reward"]?["penaltyRate"]?.GetValue<double>() ?? 0;
                var estimated = task.Body["requirements"]?["estimatedDuration"]?.GetValue<double>() ?? double.MaxValue;
                var elapsed = (DateTime.UtcNow - (task.StartedAt ?? DateTime.UtcNow)).TotalSeconds;
                var lateFraction = Math.Max(0, (elapsed - estimated) / estimated);
                var pay = perNode * (1 - Math.Min(1, lateFraction * penaltyRate));
                foreach (var accepted in task.Accepted)
                {
                    if (_peers.FirstOrDefault(p => p.PeerId == accepted)?.Connection is { } target)
                    {
                        rewards.Add((target, pay));
                        _totalRewards += pay;
                    }
                }
            }

            Changed();
        }

        foreach (var (target, reward) in rewards)
        {
            await target.SendAsync(new JsonObject { ["type"] = "reward_distribution", ["taskId"] = taskId, ["reward"] = reward, ["timestamp"] = Now() });
        }
    }

    private async Task ValidatorAssignmentAsync(Connection connection, string? peerId, JsonObject? task)
    {
        string region;
        lock (_lock)
        {
            var validator = _peers.FirstOrDefault(p => p.PeerId == peerId && p.NodeType == "regional_node");
            if (validator is null || task is null)
            {
                return;
            }

            region = validator.Region;
        }

        try
        {
            var (targets, copy) = Select(task, region);
            foreach (var (target, _) in targets)
            {
                await target.SendAsync(new JsonObject { ["type"] = "task_assignment", ["task"] = copy.DeepClone() });
            }
        }
        catch (InvalidOperationException)
        {
            await SendErrorAsync(connection, "Task assignment failed");
        }
    }

    /// <summary>Section 7: the region's individual peers in join order, by tier, reported resources, GPU and load; the first maxNodes.</summary>
    private (List<(Connection Connection, string PeerId)> Targets, JsonObject Copy) Select(JsonObject task, string region)
    {
        var type = RegionalMessages.StringMember(task, "type") ?? string.Empty;
        if (!TaskTypes.TryGetValue(type, out var rules))
        {
            throw new InvalidOperationException($"task type {type} is not in the table");
        }

        if (task["status"]?["assignedNodes"] is not JsonArray)
        {
            throw new InvalidOperationException("status.assignedNodes is not an array");
        }

        var requirements = task["requirements"] as JsonObject ?? [];
        double? Number(string name) => requirements[name] is JsonValue n && n.TryGetValue<double>(out var d) ? d : null;
        var minMemory = Number("minMemory");
        var minStorage = Number("minStorage");
        var gpu = requirements["gpuRequired"] is JsonValue g && g.TryGetValue<bool>(out var b) && b;
        var maxNodes = (int)(Number("maxNodes") ?? int.MaxValue);

        lock (_lock)
        {
            var selected = _peers
                .Where(p => p.Region == region && p.NodeType == "individual" && p.Connection is not null)
                .Where(p => rules.Tiers.Contains(p.NodeTier))
                .Where(p => minStorage is null || p.Resource("storage") >= minStorage)
                .Where(p => minMemory is null || p.Resource("memory") >= minMemory)
                .Where(p => !gpu || p.NodeTier is "training" or "feedback")
                .Where(p => p.ActiveTasks < TierTaskLimit.GetValueOrDefault(p.NodeTier, 0))
                .Take(maxNodes)
                .ToList();
            var copy = (JsonObject)task.DeepClone();
            copy["status"]!["assignedNodes"] = new JsonArray([.. selected.Select(p => (JsonNode)p.PeerId)]);
            if (copy["reward"] is JsonObject reward && selected.Count > 0)
            {
                var total = reward["total"]?.GetValue<double>() ?? 0;
                var share = reward["validatorShare"]?.GetValue<double>() ?? 0;
                reward["perNode"] = total * (1 - (share / 100)) / selected.Count;
            }

            var taskId = RegionalMessages.StringMember(task, "taskId") ?? string.Empty;
            _tasks[taskId] = new RegionalTask((JsonObject)task.DeepClone(), [.. selected.Select(p => p.PeerId)]);
            Changed();
            return ([.. selected.Select(p => (p.Connection!, p.PeerId))], copy);
        }
    }

    private static bool IsFalsy(JsonNode? node) => node is null || node.GetValueKind() switch
    {
        JsonValueKind.False or JsonValueKind.Null => true,
        JsonValueKind.Number => node.GetValue<double>() == 0,
        JsonValueKind.String => node.GetValue<string>().Length == 0,
        _ => false,
    };

    private async Task SendErrorAsync(Connection connection, string error)
    {
        lock (_lock)
        {
            _errorsSent.Add((connection.Id, error));
            Changed();
        }

        await connection.SendAsync(new JsonObject { ["type"] = "error", ["error"] = error, ["timestamp"] = Now() });
    }

    private async Task BroadcastToRegionAsync(string region, string subject, JsonObject message)
    {
        List<Connection> targets;
        lock (_lock)
        {
            targets = [.. _peers.Where(p => p.Region == region && p.PeerId != subject && p.Connection is not null).Select(p => p.Connection!).Distinct()];
        }

        foreach (var target in targets)
        {
            await target.SendAsync(message);
        }
    }

    private async Task DisconnectedAsync(Connection connection)
    {
        List<Peer> gone;
        lock (_lock)
        {
            _connections.Remove(connection.Id);
            gone = [.. _peers.Where(p => p.Connection == connection)];
            foreach (var peer in gone)
            {
                _peers.Remove(peer);
                foreach (var task in _tasks.Values)
                {
                    task.Assigned.Remove(peer.PeerId);
                    task.Accepted.Remove(peer.PeerId);
                }
            }

            Changed();
        }

        foreach (var peer in gone)
        {
            await BroadcastToRegionAsync(peer.Region, peer.PeerId, new JsonObject { ["type"] = "peer_left", ["peerId"] = peer.PeerId, ["region"] = peer.Region, ["timestamp"] = Now() });
        }
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "A SemaphoreSlim whose AvailableWaitHandle is never read holds no unmanaged resource; sends may still race the socket's end, so it is never disposed.")]
    private sealed class Connection(int id, WebSocket socket, Tenzro.Node.Core.Identity.NodeIdentity? signer)
    {
        private readonly SemaphoreSlim _send = new(1, 1);

        public int Id { get; } = id;

        public Task SendAsync(JsonObject message) =>
            SendTextAsync((signer is null ? message : SignedEnvelope.Sign((JsonObject)message.DeepClone(), signer, DateTimeOffset.UtcNow)).ToJsonString());

        public async Task SendTextAsync(string text)
        {
            await _send.WaitAsync();
            try
            {
                if (socket.State == WebSocketState.Open)
                {
                    await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);
                }
            }
            catch (Exception e) when (e is WebSocketException or ObjectDisposedException)
            {
            }
            finally
            {
                _send.Release();
            }
        }

        public void Abort() => socket.Abort();
    }

    private sealed class Peer(string peerId, string nodeType, string nodeTier, string region, double tokenBalance, Connection? connection)
    {
        public string PeerId { get; } = peerId;
        public string NodeType { get; } = nodeType;
        public string NodeTier { get; } = nodeTier;
        public string Region { get; } = region;
        public Connection? Connection { get; } = connection;
        public JsonObject? Status { get; set; }

        public double Resource(string name) => Status?["resources"]?[name] is JsonValue v && v.TryGetValue<double>(out var d) ? d : 0;

        public double ActiveTasks => Status?["activeTasks"] is JsonValue v && v.TryGetValue<double>(out var d) ? d : 0;

        public JsonObject Info() => new()
        {
            ["peerId"] = PeerId,
            ["nodeType"] = NodeType,
            ["nodeTier"] = NodeTier,
            ["region"] = Region,
            ["tokenBalance"] = tokenBalance,
            ["connected"] = true,
            ["lastSeen"] = Now(),
        };
    }

    private sealed class RegionalTask(JsonObject body, List<string> assigned)
    {
        public JsonObject Body { get; } = body;
        public List<string> Assigned { get; } = assigned;
        public HashSet<string> Accepted { get; } = [];
        public Dictionary<string, JsonNode> Results { get; } = [];
        public bool Completed { get; set; }
        public DateTime? StartedAt { get; set; }
    }
}

/// <summary>A host lifetime that leaves signals alone: the development regional node is stopped by its owner's dispose.</summary>
internal sealed class StartedByCallerLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
