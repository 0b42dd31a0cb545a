using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Networking.Aggregation;
using Tenzro.Node.Tests.Peers;

namespace Tenzro.Node.Tests.Aggregation;

/// <summary><c>pooled</c> in <c>/api/aggregation</c>: the members' free figures summed, and their speed only when every one announces it.</summary>
[Trait("Suite", "aggregation")]
public sealed class PooledCapacityTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 3, 0, 0, TimeSpan.Zero);
    private readonly NodeIdentity _a = NodeIdentity.CreateEphemeral();
    private readonly NodeIdentity _b = NodeIdentity.CreateEphemeral();

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    [Fact]
    public void EveryMemberAnnouncesItsSpeed_TheSpeedsAreSummed()
    {
        var pooled = new PooledCapacity();
        pooled.Add(Record(_a, 2_000_000_000));
        pooled.Add(Record(_b, 3_500_000_000));

        var json = pooled.ToJson();

        Assert.Equal(5_500_000_000, json["cpuOpsPerSecond"]!.GetValue<long>());
        Assert.Equal(2 * NodeRecordTests.Content().Free.Cpu, json["cpuCores"]!.GetValue<double>(), 2);
    }

    [Fact]
    public void AMemberWithoutASpeed_LeavesTheSumOut()
    {
        var pooled = new PooledCapacity();
        pooled.Add(Record(_a, 2_000_000_000));
        pooled.Add(Record(_b, null));

        var json = pooled.ToJson();

        // A sum of one member's speed would pass for the group's: there is none.
        Assert.False(json.ContainsKey("cpuOpsPerSecond"));
        Assert.True(json.ContainsKey("cpuCores"));
    }

    [Fact]
    public void NoLiveMember_HasNoSpeed()
    {
        Assert.False(new PooledCapacity().ToJson().ContainsKey("cpuOpsPerSecond"));
    }

    private static NodeRecord Record(NodeIdentity identity, long? opsPerSecond) =>
        NodeRecord.Create(identity, NodeRecordTests.Content() with { FreeCpuOpsPerSecond = opsPerSecond }, 1, Now.AddHours(1));
}
