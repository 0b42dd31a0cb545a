using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Networking.Peers;

namespace Tenzro.Node.Tests.Peers;

/// <summary>The node record's speed figure, <c>free.cpuOpsPerSecond</c>: an addition to CONTRACTS "Node record" that older readers ignore.</summary>
[Trait("Suite", "peers")]
public sealed class NodeRecordSpeedTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 3, 0, 0, TimeSpan.Zero);
    private readonly NodeIdentity _identity = NodeIdentity.CreateEphemeral();

    public void Dispose() => _identity.Dispose();

    [Fact]
    public void Create_WithASpeed_CarriesItInFree_AndItSurvivesSigningAndReading()
    {
        var record = NodeRecord.Create(_identity, NodeRecordTests.Content() with { FreeCpuOpsPerSecond = 12_000_000_000 }, 7, Now.AddHours(1));

        var read = NodeRecord.Read(JsonNode.Parse(record.Json.ToJsonString()), Now, out var refusal);

        Assert.Equal(12_000_000_000, record.Json["free"]!["cpuOpsPerSecond"]!.GetValue<long>());
        Assert.Null(refusal);
        Assert.Equal(12_000_000_000, read!.Content.FreeCpuOpsPerSecond);
        Assert.Equal(2, read.Content.Free.Cpu);
    }

    [Fact]
    public void Read_ChangedSpeed_IsRefusedByTheSignature()
    {
        var json = (JsonObject)NodeRecord.Create(_identity, NodeRecordTests.Content() with { FreeCpuOpsPerSecond = 1_000_000_000 }, 1, Now.AddHours(1)).Json.DeepClone();
        json["free"]!["cpuOpsPerSecond"] = 9_000_000_000;

        Assert.Null(NodeRecord.Read(json, Now, out var refusal));
        Assert.Equal(P2pRejection.BadSignature, refusal!.Reason);
    }

    [Fact]
    public void Read_RecordWithoutASpeed_IsAccepted_WithNoSpeed()
    {
        var record = NodeRecord.Create(_identity, NodeRecordTests.Content(), 1, Now.AddHours(1));

        var read = NodeRecord.Read(JsonNode.Parse(record.Json.ToJsonString()), Now, out var refusal);

        Assert.Null(record.Json["free"]!["cpuOpsPerSecond"]);
        Assert.Equal(["cpuCores", "gpuCount", "gpuMemoryMB", "memoryMB", "storageMB"], record.Json["free"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Null(refusal);
        Assert.Null(read!.Content.FreeCpuOpsPerSecond);
    }

    [Fact]
    public void Read_SpeedThatIsNotANumber_IsMalformed()
    {
        var json = (JsonObject)NodeRecord.Create(_identity, NodeRecordTests.Content(), 1, Now.AddHours(1)).Json.DeepClone();
        json["free"]!["cpuOpsPerSecond"] = "fast";
        DomainSignature.Sign(json, SignatureDomain.NodeRecord, _identity);

        Assert.Null(NodeRecord.Read(json, Now, out var refusal));
        Assert.Equal(P2pRejection.Malformed, refusal!.Reason);
        Assert.Contains("cpuOpsPerSecond", refusal.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_LargestRealisticRecordWithASpeed_StaysWithin800Bytes()
    {
        // A big server: every runtime, a long region and version, three addresses (one of them the longest IPv6 form),
        // eight 80 GB GPUs, 2 TB of memory, 100 TB of storage and the speed of a few hundred fast cores. (A node with
        // more addresses than fit announces fewer of them.)
        var content = new NodeRecordContent
        {
            Version = "10.12.100-preview.12",
            Tier = "aggregator",
            QualifiedTier = "aggregator",
            Region = "ap-southeast-2-central",
            Arch = "arm64",
            Addresses = ["203.0.113.200:65535", "198.51.100.201:65535", "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535"],
            RaftPort = 65535,
            Capabilities = ["aggregate", "compute", "inference", "process", "store", "train", "validate"],
            Free = new ResourceAmounts(511.5, 2_097_152, 104_857_600, 8, 655_360),
            FreeCpuOpsPerSecond = 990_000_000_000_000,
        };

        var record = NodeRecord.Create(_identity, content, NodeRecord.MaxSeq, Now.AddHours(1));

        Assert.InRange(CanonicalJson.Serialize(record.Json).Length, 1, NodeRecord.MaxCanonicalBytes);
        Assert.NotNull(NodeRecord.Read(record.Json, Now, out _));
    }

    [Fact]
    public void Signer_ChangedSpeed_RaisesSeq_SameSpeedKeepsTheRecord()
    {
        var signer = new NodeRecordSigner(_identity, new FakeTimeProvider(Now));

        var first = signer.Current(NodeRecordTests.Content() with { FreeCpuOpsPerSecond = 2_000_000_000 });
        var same = signer.Current(NodeRecordTests.Content() with { FreeCpuOpsPerSecond = 2_000_000_000 });
        var faster = signer.Current(NodeRecordTests.Content() with { FreeCpuOpsPerSecond = 3_000_000_000 });

        Assert.Same(first, same);
        Assert.True(faster.Seq > first.Seq);
        Assert.Equal(3_000_000_000, faster.Content.FreeCpuOpsPerSecond);
    }

    [Fact]
    public async Task Link_AfterTheBenchmarks_ThePeerReceivesTheSpeedInTheSignedRecord()
    {
        await using var a = await PeerKit.StartNodeAsync();
        var before = a.Service<PeerLinkService>().CurrentRecord();
        a.Service<HardwareProfiler>().PublishBenchmarks(
            new BenchmarkResult(
                new Dictionary<string, BenchmarkFigure> { ["cpuIntegerAllCores"] = new(4e9, "ops/s"), ["cpuIntegerSingleCore"] = new(2e9, "ops/s") },
                DateTimeOffset.UtcNow),
            cached: false);
        var after = a.Service<PeerLinkService>().CurrentRecord();
        await using var b = await PeerKit.StartNodeAsync(new Dictionary<string, string?> { ["BOOTSTRAP_NODES"] = PeerKit.AddressOf(a).ToString() });
        var aId = a.Service<NodeIdentity>().NodeId;

        await PeerKit.WaitUntilAsync(() => Task.FromResult(b.Service<PeerTable>().Get(aId)?.Record is not null), "b did not receive a's record");

        Assert.Null(before.Content.FreeCpuOpsPerSecond); // no benchmarks yet: the record leaves the speed out
        Assert.InRange(after.Content.FreeCpuOpsPerSecond!.Value, 1, 4_000_000_000);
        Assert.True(after.Seq > before.Seq);
        var received = b.Service<PeerTable>().Get(aId)!.Record!;
        Assert.Equal(after.Content.FreeCpuOpsPerSecond, received.Content.FreeCpuOpsPerSecond);
        Assert.Equal(after.Content.FreeCpuOpsPerSecond, received.Json["free"]!["cpuOpsPerSecond"]!.GetValue<long>());
    }
}
