using System.Text.Json.Nodes;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Tasks;

/// <summary>
/// The one way into the engine: every submitter gets the same typed outcome for the same task, and the view it
/// returns is the task as the status endpoint shows it.
/// </summary>
[Trait("Suite", "tasks")]
public sealed class TaskAdmissionTests
{
    private static readonly TaskSubmitter Api = new(TaskOrigins.Api, "10.0.0.9", TaskOwners.AnonymousLoopback, ChargeQuota: true);

    private static JsonObject Task(string json) => JsonNode.Parse(json)!.AsObject();

    [Fact]
    public async Task Admit_ValidTask_IsAcceptedDurableAndViewedQueuedOrLater()
    {
        await using var node = await TestNode.StartAsync();
        var admission = node.Service<TaskAdmission>();

        var outcome = await admission.AdmitAsync(Task("""{"taskId":"adm-1","type":"store","data":{"content":"x"}}"""), Api).WaitAsync(Timeouts.Short);

        Assert.Equal(AdmissionStatus.Accepted, outcome.Status);
        Assert.Equal("adm-1", outcome.View!.TaskId);
        Assert.Equal(TaskOrigins.Api, outcome.View.Record.Spec.Origin);
        Assert.Equal("10.0.0.9", outcome.View.Record.Spec.Requester);
        Assert.NotNull(node.Service<TaskEngine>().Get("adm-1"));
    }

    [Fact]
    public async Task Admit_SameTaskTwice_IsExistingWithTheStoredView_AndOtherContentIsConflict()
    {
        await using var node = await TestNode.StartAsync();
        var admission = node.Service<TaskAdmission>();
        const string first = """{"taskId":"adm-2","type":"store","data":{"content":"a"}}""";

        await admission.AdmitAsync(Task(first), Api).WaitAsync(Timeouts.Short);
        var again = await admission.AdmitAsync(Task(first), Api).WaitAsync(Timeouts.Short);
        var clash = await admission.AdmitAsync(Task("""{"taskId":"adm-2","type":"store","data":{"content":"b"}}"""), Api).WaitAsync(Timeouts.Short);

        Assert.Equal(AdmissionStatus.Existing, again.Status);
        Assert.Equal("adm-2", again.View!.TaskId);
        Assert.Equal(AdmissionStatus.Conflict, clash.Status);
        Assert.Null(clash.View);
    }

    [Theory]
    [InlineData("""{"type":"store","data":{"content":"x"},"priority":7}""", true, "priority")]
    [InlineData("""{"type":"nope"}""", false, "type")]
    [InlineData("""{"type":"store","data":{"content":"x"},"requirements":{"cpu":4096}}""", false, "requirements.cpu")]
    public async Task Admit_InvalidTask_IsInvalidWithTheField_AndNothingIsStored(string json, bool malformed, string field)
    {
        await using var node = await TestNode.StartAsync();
        var engine = node.Service<TaskEngine>();

        var outcome = await node.Service<TaskAdmission>().AdmitAsync(Task(json), Api).WaitAsync(Timeouts.Short);

        Assert.Equal(AdmissionStatus.Invalid, outcome.Status);
        Assert.Equal(malformed, outcome.Malformed);
        Assert.Contains(field, outcome.Errors!.ToDictionary().Keys);
        Assert.StartsWith("invalid task: ", outcome.Reason, StringComparison.Ordinal);
        Assert.Equal(0, engine.Counts().Queued + engine.Counts().Completed);
    }

    [Fact]
    public async Task Admit_OverCpuQuota_IsQuotaExceededForTheApi_ButNotForTheRegionalNode()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["QUOTA_CPU_SECONDS_PER_HOUR"] = "1" });
        node.Service<RequesterQuotas>().Charge("10.0.0.9", 5);
        var admission = node.Service<TaskAdmission>();
        var regional = new TaskSubmitter(TaskOrigins.Regional, TaskOrigins.Regional, TaskOwners.Regional);

        var api = await admission.AdmitAsync(Task("""{"type":"store","data":{"content":"x"}}"""), Api).WaitAsync(Timeouts.Short);
        var fromRegional = await admission.AdmitAsync(Task("""{"type":"store","data":{"content":"x"}}"""), regional).WaitAsync(Timeouts.Short);

        Assert.Equal(AdmissionStatus.QuotaExceeded, api.Status);
        Assert.True(api.RetryAfter > TimeSpan.Zero);
        Assert.Contains("QUOTA_CPU_SECONDS_PER_HOUR", api.Reason, StringComparison.Ordinal);
        Assert.Equal(AdmissionStatus.Accepted, fromRegional.Status);
        Assert.Equal(TaskOwners.Regional, fromRegional.View!.Record.Spec.Owner);
    }

    [Fact]
    public async Task Admit_WhileDraining_IsRefusedWithTheReason()
    {
        await using var node = await TestNode.StartAsync();
        node.Service<IntakeState>().SetDraining(true);

        var outcome = await node.Service<TaskAdmission>().AdmitAsync(Task("""{"type":"store","data":{"content":"x"}}"""), Api).WaitAsync(Timeouts.Short);

        Assert.Equal(AdmissionStatus.Refused, outcome.Status);
        Assert.Contains("drain", outcome.Reason, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task View_OfAFinishedTask_HasNoLiveParts()
    {
        await using var node = await TestNode.StartAsync();
        var (_, body) = await node.Client.SubmitAsync("""{"taskId":"adm-6","type":"store","data":{"content":"x"}}""");
        await node.Client.WaitFinalAsync("adm-6");

        var view = node.Service<TaskEngine>().View("adm-6")!;

        Assert.Equal(TaskState.Completed, view.State);
        Assert.Null(view.WaitingFor);
        Assert.False(view.Paused);
        Assert.Null(view.PauseReason);
        Assert.Null(node.Service<TaskEngine>().View("no-such-task"));
    }
}
