using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Hosting;

namespace Tenzro.Node.Tests.Storage;

/// <summary>The <c>Add*</c> methods only register; the start-up gate opens the identity, the store and the profile.</summary>
[Trait("Suite", "store")]
public sealed class StartupGateTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tenzro-gate-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private NodeSettings Settings(params (string Key, string Value)[] values) => NodeSettings.Load(
        new ConfigurationBuilder().AddInMemoryCollection(
            new[] { ("DATA_DIR", _directory), ("MIN_CPU_CORES", "0"), ("MIN_MEMORY_GB", "0"), ("MIN_STORAGE_GB", "0") }
                .Where(d => !values.Any(v => v.Key == d.Item1)).Concat(values)
                .Select(v => new KeyValuePair<string, string?>(v.Item1, v.Item2))).Build(),
        _directory);

    private static ServiceCollection Registered(NodeSettings settings)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddNodeCore(settings);
        services.AddHardwareProfiler(settings);
        return services;
    }

    [Fact]
    public async Task Registering_WritesNothing_AndTheGateOpensTheIdentityAndTheStore()
    {
        var services = Registered(Settings());
        var beforeTheGate = Directory.EnumerateFileSystemEntries(_directory).ToList();

        await using var provider = services.BuildServiceProvider();
        StartupGate.Open(provider);

        Assert.Empty(beforeTheGate);
        Assert.True(File.Exists(Path.Combine(_directory, "node.key")));
        Assert.True(File.Exists(Path.Combine(_directory, "node.db")));
    }

    [Fact]
    public async Task Gate_MachineBelowTheRequirements_StopsStartUpThereNamingTheSetting()
    {
        var services = Registered(Settings(("MIN_CPU_CORES", "100000")));

        await using var provider = services.BuildServiceProvider();
        var error = Assert.Throws<Cli.StartupRequirementException>(() => StartupGate.Open(provider));

        Assert.Contains("MIN_CPU_CORES=100000", error.Message, StringComparison.Ordinal);
    }
}
