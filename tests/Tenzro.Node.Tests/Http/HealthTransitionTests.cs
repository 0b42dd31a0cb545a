using System.Net;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Http;

[Trait("Suite", "http")]
public sealed class HealthTransitionTests
{
    [Fact]
    public async Task Health_MemoryAboveCritical_DegradesNamingTheComponentAndRecovers()
    {
        var usage = new FixedUsage();
        await using var node = await TestNode.StartAsync(configure: builder => builder.Services.AddSingleton<IUsageSource>(usage));
        var sampler = node.Service<ResourceSampler>();

        usage.MemoryUsedPercent = 97;
        sampler.SampleNow();
        var degraded = await node.Client.GetAsync("/health", Timeouts.Token());
        var degradedBody = await TaskApi.ReadAsync(degraded);
        var notReady = await node.Client.GetAsync("/health/ready", Timeouts.Token());

        usage.MemoryUsedPercent = 20;
        sampler.SampleNow();
        var recovered = await TaskApi.ReadAsync(await node.Client.GetAsync("/health", Timeouts.Token()));
        var ready = await node.Client.GetAsync("/health/ready", Timeouts.Token());

        Assert.Equal(HttpStatusCode.OK, degraded.StatusCode);
        Assert.Equal("degraded", degradedBody!["status"]!.GetValue<string>());
        Assert.Equal("degraded", degradedBody["checks"]!["memory"]!["status"]!.GetValue<string>());
        Assert.Contains("97.0% of memory in use", degradedBody["checks"]!["memory"]!["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        Assert.Equal("healthy", recovered!["status"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }
}
