using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Tasks;

/// <summary>The node's engine runs its lifecycle hooks in the one order docs/ARCHITECTURE.md gives.</summary>
[Trait("Suite", "tasks")]
public sealed class TaskHooksWiringTests
{
    [Fact]
    public async Task Node_Started_HasTheEnginesHooksThenTheHostsInOrder()
    {
        await using var node = await TestNode.StartAsync();

        var hooks = node.Service<TaskEngine>().Hooks.Select(h => h.GetType().Name);

        Assert.Equal(["TaskScratch", "CostRecordHook", "QuotaChargeHook", "RegionalFinishedTasks"], hooks);
    }
}
