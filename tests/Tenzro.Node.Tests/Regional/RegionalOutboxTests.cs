using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Regional;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Regional;

/// <summary>The outbox's re-sends after a silent link or an unclean stop, under a fake clock.</summary>
[Trait("Suite", "regional")]
public sealed class RegionalOutboxTests : IAsyncLifetime
{
    private readonly string _directory = TestNode.NewDirectory();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private NodeDatabase _database = null!;

    public Task InitializeAsync()
    {
        _database = new NodeDatabase(Path.Combine(_directory, "node.db"));
        _database.Migrate(Migrations.All);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void ResendLastSent_RowsSentWithinTheWindowBeforeTheLastSend_AreUnsentAgainInTheirOrder()
    {
        var outbox = new RegionalOutbox(_database, _time);
        var old = Sent(outbox, "task-old");
        _time.Advance(TimeSpan.FromMinutes(5));
        var first = Sent(outbox, "task-a");
        _time.Advance(TimeSpan.FromSeconds(3));
        var second = Sent(outbox, "task-b");
        _time.Advance(TimeSpan.FromMinutes(10));

        var requeued = outbox.ResendLastSent(TimeSpan.FromSeconds(5));

        Assert.Equal(2, requeued);
        Assert.Equal([first, second], outbox.Pending(10).Select(r => r.Sequence));
        Assert.DoesNotContain(old, outbox.Pending(10).Select(r => r.Sequence));
    }

    [Fact]
    public void ResendLastSent_SecondUncleanStopSoonAfter_DoesNotResendTheRowsTheFirstResent()
    {
        var outbox = new RegionalOutbox(_database, _time);
        var first = Sent(outbox, "task-a");
        Assert.Equal(1, outbox.ResendLastSent(TimeSpan.FromSeconds(5)));

        // Sent again after the restart, then the node dies again at once, with one new row sent.
        _time.Advance(TimeSpan.FromSeconds(1));
        outbox.MarkSent(first);
        var second = Sent(outbox, "task-b");
        var requeued = outbox.ResendLastSent(TimeSpan.FromSeconds(5));

        Assert.Equal(1, requeued);
        Assert.Equal([second], outbox.Pending(10).Select(r => r.Sequence));
    }

    [Fact]
    public void ResendLastSent_NothingEverSent_RequeuesNothing()
    {
        var outbox = new RegionalOutbox(_database, _time);
        outbox.Append("task_completed", "task-a", new JsonObject { ["type"] = "task_completed" });

        Assert.Equal(0, outbox.ResendLastSent(TimeSpan.FromSeconds(5)));
        Assert.Single(outbox.Pending(10));
    }

    private static long Sent(RegionalOutbox outbox, string taskId)
    {
        var row = outbox.Append("task_completed", taskId, new JsonObject { ["type"] = "task_completed", ["taskId"] = taskId });
        outbox.MarkSent(row.Sequence);
        return row.Sequence;
    }
}
