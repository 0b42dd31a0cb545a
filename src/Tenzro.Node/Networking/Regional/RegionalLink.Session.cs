using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Tenzro.Node.Core.Regional;

namespace Tenzro.Node.Networking.Regional;

internal sealed partial class RegionalLink
{
    /// <summary>
    /// One open connection: the join handshake, then four loops until the link closes: receive (frames to a
    /// channel), dispatch (one message at a time, in order), heartbeat (node_status), and the outbox pump.
    /// </summary>
    /// <remarks>
    /// The inbound channel is bounded and waits when full: a slow handler (a task admission that writes to
    /// disk) then holds back reading from the socket instead of dropping a message, which for this protocol
    /// could be a task assignment. Sends are serialized by the connection; outbox flushes by <see cref="_flushLock"/>,
    /// so the pump and the shutdown flush never send a row twice.
    /// </remarks>
    private sealed class Session(RegionalLink link, IRegionalConnection connection) : IDisposable
    {
        private const int InboundCapacity = 256;
        private const int OutboxBatch = 64;
        private static readonly TimeSpan OutboxRetryDelay = TimeSpan.FromSeconds(1);

        private readonly TaskCompletionSource<string?> _joinAnswer = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly SemaphoreSlim _flushLock = new(1, 1);
        private readonly SemaphoreSlim _drained = new(0, 1);
        private volatile bool _joined;
        private bool _wentSilent;

        // Bytes of frames waiting in the inbound channel: at most two frames of MAX_MESSAGE_SIZE wait, so a
        // flood of large frames holds back reading instead of filling memory (one always passes).
        private long _inboundBytes;

        public bool IsJoined => _joined;

        public void Dispose()
        {
            _flushLock.Dispose();
            _drained.Dispose();
        }

        public async Task<AttemptOutcome> RunAsync(CancellationToken attemptToken)
        {
            using var session = CancellationTokenSource.CreateLinkedTokenSource(attemptToken);
            var inbound = Channel.CreateBounded<(JsonObject Message, long Size)>(new BoundedChannelOptions(InboundCapacity)
            {
                FullMode = BoundedChannelFullMode.Wait,
                SingleReader = true,
                SingleWriter = true,
            });
            var receive = ReceiveLoopAsync(inbound.Writer, session.Token);
            var dispatch = DispatchLoopAsync(inbound.Reader, session.Token);
            Task heartbeat = Task.CompletedTask, pump = Task.CompletedTask;
            try
            {
                var started = link._time.GetTimestamp();
                try
                {
                    var join = RegionalMessages.Join(link._identity.PeerId, link._node.NodeType, link._node.NodeTier, link._node.Region, link._node.TokenBalance + link._earnings.Totals.Total);
                    await SendAsync(join, session.Token);
                    var refusal = await _joinAnswer.Task.WaitAsync(link._timings.JoinTimeout, link._time, session.Token);
                    if (refusal is not null)
                    {
                        return AttemptOutcome.Failed(refusal);
                    }
                }
                catch (TimeoutException)
                {
                    return AttemptOutcome.Failed($"no network_state within {link._timings.JoinTimeout.TotalSeconds} s of join");
                }
                catch (OperationCanceledException)
                {
                    return AttemptOutcome.Failed("cancelled while joining");
                }
                catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or IOException)
                {
                    return AttemptOutcome.Failed($"sending join failed: {e.Message}");
                }

                _joined = true;
                link.OnJoined(this, link._time.GetElapsedTime(started));
                heartbeat = HeartbeatLoopAsync(session.Token);
                pump = PumpLoopAsync(session.Token);
                var reason = await receive;
                if (_wentSilent)
                {
                    link.RequeueSwallowed();
                }

                return new AttemptOutcome(true, reason);
            }
            finally
            {
                _joined = false;
                link.OnSessionEnded(this);
                await session.CancelAsync();
                if (attemptToken.IsCancellationRequested && !link._stopping)
                {
                    using var close = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                    await CloseQuietlyAsync("reset", close.Token);
                }

                await Task.WhenAll(receive, dispatch, heartbeat, pump).ContinueWith(static _ => { }, TaskScheduler.Default);
            }
        }

        /// <summary>Signs <paramref name="message"/> (a copy) with a fresh timestamp and writes it to the link.</summary>
        public async Task SendAsync(JsonObject message, CancellationToken cancellationToken, long? outboxSequence = null)
        {
            var signed = SignedEnvelope.Sign((JsonObject)message.DeepClone(), link._identity, link._time.GetUtcNow());
            var text = signed.ToJsonString();

            // Noted before the write: the regional node's error answer can be dispatched before SendAsync returns.
            link.NoteSent(RegionalMessages.TypeOf(message) ?? string.Empty, RegionalMessages.StringMember(message, "taskId"), outboxSequence, signed);
            await connection.SendAsync(text, cancellationToken);
        }

        public Task CloseAsync(string reason, CancellationToken cancellationToken) => connection.CloseAsync(reason, cancellationToken);

        /// <summary>
        /// Sends every unsent outbox row in order, marking each sent once written, then the intermediate progress
        /// that is waiting. A progress update is sent only after the rows written before it (its task's
        /// task_accepted among them), and only while its task has not ended.
        /// </summary>
        public async Task FlushAsync(CancellationToken cancellationToken)
        {
            await _flushLock.WaitAsync(cancellationToken);
            try
            {
                while (true)
                {
                    await SendPendingRowsAsync(cancellationToken);
                    if (!link._intake.TryTakeProgress(out var update))
                    {
                        return;
                    }

                    await SendPendingRowsAsync(cancellationToken);
                    if (link._intake.IsActive(update.TaskId))
                    {
                        await SendAsync(RegionalMessages.TaskProgress(link._identity.PeerId, update.TaskId, update.Percent), cancellationToken);
                    }
                }
            }
            finally
            {
                _flushLock.Release();
            }
        }

        private async Task SendPendingRowsAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                var rows = link._outbox.Pending(OutboxBatch);
                if (rows.Count == 0)
                {
                    return;
                }

                foreach (var row in rows)
                {
                    await SendAsync(row.Message, cancellationToken, row.Sequence);
                    link._outbox.MarkSent(row.Sequence);
                }
            }
        }

        private async Task CloseQuietlyAsync(string reason, CancellationToken cancellationToken)
        {
            try
            {
                await connection.CloseAsync(reason, cancellationToken);
            }
            catch (Exception e) when (e is OperationCanceledException or System.Net.WebSockets.WebSocketException or IOException or ObjectDisposedException)
            {
                // Closing is a courtesy; the socket is disposed right after.
            }
        }

        private async Task<string> ReceiveLoopAsync(ChannelWriter<(JsonObject Message, long Size)> inbound, CancellationToken cancellationToken)
        {
            string reason;
            try
            {
                while (true)
                {
                    var frame = await connection.ReceiveAsync(cancellationToken);
                    if (frame.Kind is RegionalFrameKind.Closed or RegionalFrameKind.Silent)
                    {
                        reason = frame.Text ?? "the link closed";
                        _wentSilent = frame.Kind == RegionalFrameKind.Silent;
                        break;
                    }

                    if (AcceptOrDrop(frame) is { } message)
                    {
                        while (Interlocked.Read(ref _inboundBytes) > 0 && Interlocked.Read(ref _inboundBytes) + frame.Size > 2 * link._network.MaxMessageSize)
                        {
                            await _drained.WaitAsync(cancellationToken);
                        }

                        Interlocked.Add(ref _inboundBytes, frame.Size);
                        await inbound.WriteAsync((message, frame.Size), cancellationToken);
                    }
                }
            }
            catch (OperationCanceledException)
            {
                reason = "the link was closed by this node";
            }

            inbound.TryComplete();
            _joinAnswer.TrySetResult($"the link closed before the join was acknowledged: {reason}");
            return reason;
        }

        /// <summary><see cref="Accept"/>, with any frame it cannot read (duplicate keys, a lone surrogate) dropped as malformed: one frame never ends the link.</summary>
        private JsonObject? AcceptOrDrop(RegionalFrame frame)
        {
            try
            {
                return Accept(frame);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or JsonException)
            {
                Interlocked.Increment(ref link._malformed);
                LogMalformedFrame(link._logger, frame.Size, e.Message);
                return null;
            }
        }

        /// <summary>Turns a frame into a message, or drops it (logged and counted) when it is oversized, not a JSON object, or badly signed.</summary>
        private JsonObject? Accept(RegionalFrame frame)
        {
            switch (frame.Kind)
            {
                case RegionalFrameKind.TooLarge:
                    Interlocked.Increment(ref link._oversized);
                    link._securityEvents?.CountDroppedFrame("oversized");
                    LogOversizedFrame(link._security, frame.Size, link._network.MaxMessageSize);
                    return null;
                case RegionalFrameKind.Unreadable:
                    Interlocked.Increment(ref link._malformed);
                    LogMalformedFrame(link._logger, frame.Size, "not UTF-8 text");
                    return null;
            }

            JsonObject? message;
            try
            {
                message = JsonNode.Parse(frame.Utf8!) as JsonObject;
            }
            catch (JsonException e)
            {
                Interlocked.Increment(ref link._malformed);
                LogMalformedFrame(link._logger, frame.Size, e.Message);
                return null;
            }

            if (message is null)
            {
                Interlocked.Increment(ref link._malformed);
                LogMalformedFrame(link._logger, frame.Size, "not a JSON object");
                return null;
            }

            // PROTOCOL.md "Signatures": the regional node's key is pinned (REGIONAL_NODE_KEY, else the first validly
            // signed frame); once it is, an unsigned frame or one signed otherwise is dropped.
            var pinned = link.PinnedKey;
            if (!message.ContainsKey("publicKey") && !message.ContainsKey("signature"))
            {
                if (pinned is null)
                {
                    return message;
                }

                Interlocked.Increment(ref link._unsigned);
                link._securityEvents?.CountDroppedFrame("unsigned");
                LogUnsignedFrame(link._security, RegionalMessages.TypeOf(message) ?? "(none)", frame.Size, link.Url!);
                return null;
            }

            var verdict = SignedEnvelope.Verify(message, link._time.GetUtcNow(), pinned);
            if (!verdict.IsValid)
            {
                Interlocked.Increment(ref link._badSignatures);
                link._securityEvents?.CountDroppedFrame("bad_signature");
                LogBadSignature(link._security, RegionalMessages.TypeOf(message) ?? "(none)", RegionalMessages.StringMember(message, "peerId") ?? "(none)", verdict.Reason ?? "invalid", link.Url!);
                return null;
            }

            if (pinned is null)
            {
                link.Pin(verdict.PublicKey!);
            }

            return message;
        }

        private async Task DispatchLoopAsync(ChannelReader<(JsonObject Message, long Size)> inbound, CancellationToken cancellationToken)
        {
            try
            {
                await foreach (var (message, size) in inbound.ReadAllAsync(cancellationToken))
                {
                    Interlocked.Add(ref _inboundBytes, -size);
                    if (_drained.CurrentCount == 0)
                    {
                        try
                        {
                            _drained.Release();
                        }
                        catch (SemaphoreFullException)
                        {
                            // Released by a concurrent read of CurrentCount: the waiter wakes either way.
                        }
                    }

                    try
                    {
                        await HandleAsync(message, cancellationToken);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        LogHandlerFailed(link._logger, e, RegionalMessages.TypeOf(message) ?? "(none)");
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        private async Task HandleAsync(JsonObject message, CancellationToken cancellationToken)
        {
            var type = RegionalMessages.TypeOf(message);
            switch (type)
            {
                case RegionalMessageTypes.NetworkState:
                    // The acknowledgement first: a peer list the node cannot read must not keep it from joining.
                    _joinAnswer.TrySetResult(null);
                    link.ReplacePeers(message["peers"] as JsonArray);
                    break;
                case RegionalMessageTypes.Error:
                    var error = RegionalMessages.StringMember(message, "error") ?? message["error"]?.ToJsonString() ?? "(no text)";
                    if (!_joined)
                    {
                        _joinAnswer.TrySetResult($"the regional node refused the join: {error}");
                    }
                    else
                    {
                        link.RecordRegionalError(error);
                    }

                    break;
                case RegionalMessageTypes.PeerJoined:
                    link.AddPeer(message["peerInfo"] as JsonObject);
                    break;
                case RegionalMessageTypes.PeerLeft:
                    link.RemovePeer(RegionalMessages.StringMember(message, "peerId"));
                    break;
                case RegionalMessageTypes.RewardDistribution:
                    RecordReward(message);
                    break;
                case RegionalMessageTypes.TaskAssignment:
                    await link._intake.HandleAssignmentAsync(message);
                    break;
                case RegionalMessageTypes.StatusRequest:
                    if (_joined)
                    {
                        await SendAsync(link.BuildNodeStatus(), cancellationToken);
                    }

                    break;
                case RegionalMessageTypes.Status:
                    break;
                default:
                    LogUnknownMessage(link._logger, type ?? "(none)");
                    break;
            }
        }

        /// <summary>
        /// Credits a reward only for a task this node completed for the regional node, once per task, and at most
        /// <see cref="EarningsLedger.MaxRewardPerTask"/>; any other is refused, counted and logged as a security event.
        /// </summary>
        private void RecordReward(JsonObject message)
        {
            var taskId = RegionalMessages.StringMember(message, "taskId");
            if (message["reward"] is not JsonValue value || !value.TryGetValue<double>(out var reward) || !double.IsFinite(reward) || reward < 0)
            {
                LogBadReward(link._logger, taskId ?? "(none)", message["reward"]?.ToJsonString() ?? "(missing)");
                return;
            }

            var refusal = taskId is null ? "it names no task"
                : link._engine.Get(taskId) is not { Spec.Origin: Core.Tasks.TaskOrigins.Regional, State: Core.Tasks.TaskState.Completed } ? "this node completed no regional task with that id"
                : reward > EarningsLedger.MaxRewardPerTask ? $"it is over the cap of {EarningsLedger.MaxRewardPerTask} per task"
                : link._earnings.HasReward(taskId) ? "the task was rewarded already"
                : null;
            if (refusal is not null)
            {
                Interlocked.Increment(ref link._refusedRewards);
                link._securityEvents?.CountDroppedFrame("reward_refused");
                LogRefusedReward(link._security, taskId ?? "(none)", reward, refusal);
                return;
            }

            var totals = link._earnings.Record(taskId, reward);
            LogReward(link._logger, reward, taskId ?? "(none)", totals.Total);
        }

        private async Task HeartbeatLoopAsync(CancellationToken cancellationToken)
        {
            using var timer = new PeriodicTimer(link._network.HeartbeatInterval, link._time);
            try
            {
                do
                {
                    try
                    {
                        await SendAsync(link.BuildNodeStatus(), cancellationToken);
                    }
                    catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or Core.Storage.StoreException)
                    {
                        LogStoreFailed(link._logger, e, "node_status");
                    }
                }
                while (await timer.WaitForNextTickAsync(cancellationToken));
            }
            catch (Exception e) when (e is OperationCanceledException or System.Net.WebSockets.WebSocketException or IOException or ObjectDisposedException)
            {
                // The link is closing; the receive loop reports why.
            }
        }

        private async Task PumpLoopAsync(CancellationToken cancellationToken)
        {
            try
            {
                while (true)
                {
                    try
                    {
                        await FlushAsync(cancellationToken);
                    }
                    catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or Core.Storage.StoreException)
                    {
                        // The rows stay unsent; the next attempt starts again from the oldest one.
                        LogStoreFailed(link._logger, e, "the outbox");
                        await Task.Delay(OutboxRetryDelay, link._time, cancellationToken);
                        continue;
                    }

                    await link._intake.WaitForWorkAsync(cancellationToken);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or System.Net.WebSockets.WebSocketException or IOException or ObjectDisposedException)
            {
                // Rows not marked sent stay in the outbox and go out after the next join.
            }
        }
    }
}
