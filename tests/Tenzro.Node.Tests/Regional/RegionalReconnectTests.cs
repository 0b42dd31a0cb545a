using System.Collections.Concurrent;
using System.Net.WebSockets;
using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Regional;
using Tenzro.Node.Networking.Regional;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Regional;

/// <summary>The reconnect schedule, on a fake clock and an in-memory transport that refuses every connection.</summary>
[Trait("Suite", "regional")]
public sealed class RegionalReconnectTests
{
    [Fact]
    public async Task Reconnect_EveryAttemptRefused_SchedulesOneCappedExponentialDelayPerFailure()
    {
        var time = new DelayRecordingTimeProvider();
        var transport = new RefusingTransport();
        await using var node = await TestNode.StartAsync(
            new Dictionary<string, string?>
            {
                ["REGIONAL_NODE_URL"] = "ws://127.0.0.1:9",
                ["RECONNECT_INTERVAL"] = "100",
                ["RECONNECT_MAX_INTERVAL"] = "1000",
                ["MAX_RECONNECT_ATTEMPTS"] = "3",
            },
            configure: b =>
            {
                b.Services.AddSingleton<TimeProvider>(time);
                b.Services.AddSingleton<IRegionalTransport>(transport);
            });
        var link = node.Service<RegionalLink>();
        var states = new List<RegionalLinkState>();

        for (var failure = 1; failure <= 7; failure++)
        {
            await WaitAsync(() => time.Delays.Count == failure, $"reconnect delay {failure}");
            Assert.Equal(failure, transport.Attempts);
            states.Add(link.Snapshot().State);
            time.Advance(time.Delays[failure - 1]);
        }

        await WaitAsync(() => time.Delays.Count == 8, "the delay after the eighth attempt");
        double[] expected = [100, 200, 400, 800, 1000, 1000, 1000];
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.InRange(time.Delays[i].TotalMilliseconds, expected[i] * 0.8, expected[i]);
        }

        Assert.Equal([RegionalLinkState.Connecting, RegionalLinkState.Connecting, RegionalLinkState.Failed, RegionalLinkState.Failed, RegionalLinkState.Failed, RegionalLinkState.Failed, RegionalLinkState.Failed], states);
        Assert.Equal(8, transport.Attempts);
        Assert.Equal(7, link.Snapshot().Reconnects);
    }

    private static async Task WaitAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeouts.Short;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"waited in vain for {what}");
            }

            await Task.Delay(5);
        }
    }

    /// <summary>A fake clock that records the due time of every one-shot timer (what <c>Task.Delay</c> creates).</summary>
    private sealed class DelayRecordingTimeProvider : FakeTimeProvider
    {
        private readonly ConcurrentQueue<TimeSpan> _delays = new();

        public DelayRecordingTimeProvider()
            : base(DateTimeOffset.UtcNow)
        {
        }

        public IReadOnlyList<TimeSpan> Delays => [.. _delays];

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            if (period == Timeout.InfiniteTimeSpan && dueTime != Timeout.InfiniteTimeSpan)
            {
                _delays.Enqueue(dueTime);
            }

            return base.CreateTimer(callback, state, dueTime, period);
        }
    }

    private sealed class RefusingTransport : IRegionalTransport
    {
        private int _attempts;

        public int Attempts => Volatile.Read(ref _attempts);

        public string? SetupError => null;

        public Task<IRegionalConnection> ConnectAsync(Uri url, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _attempts);
            throw new WebSocketException(WebSocketError.Faulted, "connection refused");
        }
    }
}
