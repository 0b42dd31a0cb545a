using Microsoft.Extensions.Configuration;
using Tenzro.Node.Core.Aggregation;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Peers;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Aggregation;

public sealed class EligibilityTests
{
    private static readonly AggregationOptions Options = new() { MinTier = "aggregator" };
    private static readonly ResourceAmounts Small = new(0.5, 512, 2048, 0, 0);

    private static NodeRecord Record(string tier = "aggregator", string qualified = "aggregator", string arch = "x64", ResourceAmounts? free = null)
    {
        using var identity = NodeIdentity.CreateEphemeral();
        var content = new NodeRecordContent
        {
            Version = "1.0.0",
            Tier = tier,
            QualifiedTier = qualified,
            Region = "us-east",
            Arch = arch,
            Free = free ?? Small,
        };
        return NodeRecord.Create(identity, content, 1, DateTimeOffset.UtcNow.AddHours(1));
    }

    [Fact]
    public void Judge_AggregatorOnTheSameMachineKind_IsEligibleWithLittleFree()
    {
        var candidate = Eligibility.Judge(Record(), Record(), 0.4, Options);

        Assert.True(candidate.Eligible);
        Assert.Empty(candidate.Failed);
    }

    [Fact]
    public void Judge_InferenceTier_FailsOnTierOnly()
    {
        var candidate = Eligibility.Judge(Record(), Record(tier: "inference", qualified: "inference"), 0.4, Options);

        Assert.False(candidate.Eligible);
        Assert.Equal(["tier"], candidate.Failed);
    }

    [Fact]
    public void Judge_EveryCriterionMissed_NamesEachOne()
    {
        var candidate = Eligibility.Judge(Record(), Record(tier: "inference", arch: "arm64", free: new ResourceAmounts(0, 128, 0, 0, 0)), 250, Options);

        Assert.Equal(["tier", "arch", "resources", "proximity"], candidate.Failed);
    }

    [Fact]
    public void Judge_NoRoundTripMeasured_FailsOnProximity()
    {
        Assert.Equal(["proximity"], Eligibility.Judge(Record(), Record(), null, Options).Failed);
    }

    [Fact]
    public void Judge_ConfiguredTierAboveQualified_IsAWarningNotAFailure()
    {
        var candidate = Eligibility.Judge(Record(), Record(tier: "aggregator", qualified: "inference"), 0.4, Options);

        Assert.True(candidate.Eligible);
        Assert.Contains(candidate.Warnings, w => w.Contains("above the tier", StringComparison.Ordinal));
    }

    [Fact]
    public void Formation_FounderIsTheLowestId_AndInviteesFillAtMostFiveMembers()
    {
        string[] ids = ["c1", "a7", "f0", "b2", "e4", "d3", "09"];

        Assert.Equal("09", Formation.Founder(ids));
        Assert.Equal(["a7", "b2", "c1", "d3"], Formation.Invitees("09", ids));
    }

    [Fact]
    public void Formation_TwoRacingProposals_EveryOrderEndsWithTheLowestFounder()
    {
        var low = new GroupProposal("g1", "aa", Existing: false);
        var high = new GroupProposal("g2", "bb", Existing: false);
        var running = new GroupProposal("g3", "cc", Existing: true);

        foreach (var order in new[] { new[] { low, high }, [high, low] })
        {
            GroupProposal? held = null;
            foreach (var arriving in order)
            {
                held = Formation.Prefers(arriving, held) ? arriving : held;
            }

            Assert.Equal(low, held);
        }

        Assert.True(Formation.Prefers(running, low));
        Assert.False(Formation.Prefers(low, running));
    }

    [Theory]
    [InlineData("1")]
    [InlineData("2")]
    public void Settings_ThresholdBelowThree_IsAConfigurationError(string threshold)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new KeyValuePair<string, string?>("AGGREGATION_THRESHOLD", threshold)]).Build();

        var error = Assert.Throws<ConfigurationException>(() => NodeSettings.Load(configuration, "/base"));

        Assert.Contains("AGGREGATION_THRESHOLD", error.Message, StringComparison.Ordinal);
        Assert.Contains("3 voters", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Judge_WorkNeedsAGpu_PeerWithoutAFreeGpuFailsOnGpuOnly()
    {
        var needsGpu = Options with { NeedsGpu = true };

        var without = Eligibility.Judge(Record(), Record(), 0.4, needsGpu);
        var with = Eligibility.Judge(Record(), Record(free: new ResourceAmounts(0.5, 512, 2048, 1, 8192)), 0.4, needsGpu);

        Assert.Equal([Eligibility.Gpu], without.Failed);
        Assert.True(with.Eligible);
    }

    [Fact]
    public void Judge_WorkNeedsNoGpu_PeerWithoutOneIsEligible()
    {
        Assert.True(Eligibility.Judge(Record(), Record(), 0.4, Options).Eligible);
    }

    [Fact]
    public void Settings_GpuRequired_MakesTheGroupsWorkNeedAGpu()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new KeyValuePair<string, string?>("GPU_REQUIRED", "true")]).Build();

        Assert.True(NodeSettings.Load(configuration, "/base").Aggregation.NeedsGpu);
        Assert.False(NodeSettings.Load(new ConfigurationBuilder().Build(), "/base").Aggregation.NeedsGpu);
    }
}
