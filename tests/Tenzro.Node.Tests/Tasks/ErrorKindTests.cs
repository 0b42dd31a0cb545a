using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Tasks;

/// <summary>The <c>errorKind</c> a task's status names beside its error.</summary>
[Trait("Suite", "tasks")]
public sealed class ErrorKindTests
{
    [Fact]
    public async Task Status_FailedAndCompletedTasks_NameTheErrorKind()
    {
        var (node, _) = await ScriptedRuntime.StartNodeAsync();
        await using var _ = node;

        await node.Client.SubmitAsync("""{"taskId":"bad","type":"script","data":{"action":"fail","reason":"bad input"}}""");
        await node.Client.SubmitAsync("""{"taskId":"good","type":"script","data":{"action":"complete","value":1}}""");
        var failed = await node.Client.WaitFinalAsync("bad");
        var completed = await node.Client.WaitFinalAsync("good");

        Assert.Equal("task", failed["errorKind"]!.GetValue<string>());
        Assert.Null(completed["errorKind"]);
    }

    [Theory]
    [InlineData("short", "resource", "resource error (disk full): scripted shortage")]
    [InlineData("unreachable", "network", "network error (peer unreachable): scripted peer failure")]
    [InlineData("oom", "resource", "resource error (out of memory): scripted: the array was too large")]
    public async Task Status_ResourceAndNetworkErrors_NameTheirFamilyInErrorAndErrorKind(string action, string kind, string error)
    {
        var (node, _) = await ScriptedRuntime.StartNodeAsync();
        await using var _ = node;

        await node.Client.SubmitAsync($$$"""{"taskId":"t-{{{action}}}","type":"script","data":{"action":"{{{action}}}"}}""");
        var failed = await node.Client.WaitFinalAsync($"t-{action}");

        Assert.Equal("failed", failed["state"]!.GetValue<string>());
        Assert.Equal(kind, failed["errorKind"]!.GetValue<string>());
        Assert.Equal(error, failed["error"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("stopped after its timeout of 5 s", "task")]
    [InlineData("internal error: Object reference not set to an instance of an object.", "node")]
    [InlineData("interrupted 3 times (the node stopped while it ran); MAX_TASK_ATTEMPTS is 3", "node")]
    [InlineData("internal error: No space left on device : '/data/blobs/x.tmp'", "resource")]
    [InlineData("the peer answered: Connection refused", "network")]
    public void Of_EngineAndRuntimeErrors_AreClassified(string error, string kind) => Assert.Equal(kind, TaskErrorKinds.Of(error));
}
