using System.Net;
using System.Text.Json.Nodes;
using Tenzro.Node.Cli;
using Tenzro.Node.Core.Hardware.Benchmarks;
using Tenzro.Node.Hosting;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Hardware;

/// <summary>The profile through a real node: the HTTP API, the start-up gate, the tier check and the benchmark cache.</summary>
[Trait("Suite", "hardware")]
public sealed class HardwareApiTests
{
    private static readonly Action<WebApplicationBuilder> QuickBenchmarks = builder => builder.Services.AddSingleton(BenchmarkTests.Quick);

    [Fact]
    public async Task GetProfile_RunningNode_HasTheContractFieldsWithThisMachinesFigures()
    {
        await using var node = await TestNode.StartAsync();

        // The benchmarks' state is settled (cached, or skipped with BENCHMARK_ON_START=false) just after the node starts
        // answering; until then it is truthfully "pending".
        var profile = await node.Client.GetJsonAsync("/api/hardware/profile");
        var deadline = DateTime.UtcNow + Timeouts.Short;
        while (profile["benchmarkRun"]!["state"]!.GetValue<string>() == "pending" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
            profile = await node.Client.GetJsonAsync("/api/hardware/profile");
        }

        Assert.Equal(Environment.ProcessorCount, profile["cpu"]!["logicalCores"]!.GetValue<int>());
        Assert.True(profile["cpu"]!["usableCores"]!.GetValue<double>() > 0);
        Assert.False(string.IsNullOrEmpty(profile["cpu"]!["model"]!.GetValue<string>()));
        Assert.IsType<JsonArray>(profile["cpu"]!["features"]);
        Assert.False(string.IsNullOrEmpty(profile["cpu"]!["architecture"]!.GetValue<string>()));
        Assert.True(profile["memory"]!["totalBytes"]!.GetValue<long>() >= profile["memory"]!["usableBytes"]!.GetValue<long>());
        Assert.True(profile["memory"]!["availableBytes"]!.GetValue<long>() > 0);
        Assert.True(profile["storage"]!["totalBytes"]!.GetValue<long>() >= profile["storage"]!["freeBytes"]!.GetValue<long>());
        Assert.Equal(node.DataDirectory, profile["storage"]!["path"]!.GetValue<string>());
        Assert.IsType<JsonArray>(profile["gpus"]);
        Assert.IsType<JsonArray>(profile["network"]!["interfaces"]);
        Assert.True(profile["network"]!.AsObject().ContainsKey("bandwidthMbps"));
        Assert.IsType<JsonObject>(profile["benchmarks"]);
        Assert.Equal("skipped", profile["benchmarkRun"]!["state"]!.GetValue<string>());
        Assert.Matches("^[0-9a-f]{64}$", profile["fingerprint"]!.GetValue<string>());
        Assert.IsType<JsonArray>(profile["limitsApplied"]);
        Assert.Equal("inference", profile["tier"]!["configured"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(profile["os"]!["kernel"]?.GetValue<string>() ?? profile["os"]!["name"]!.GetValue<string>()));
        Assert.Equal(Environment.MachineName, profile["os"]!["hostname"]!.GetValue<string>());
    }

    [Fact]
    public async Task Status_RunningNode_QualifiedTierComesFromTheProfile()
    {
        await using var node = await TestNode.StartAsync();

        var profile = await node.Client.GetJsonAsync("/api/hardware/profile");
        var status = await node.Client.GetJsonAsync("/status");

        Assert.Equal(profile["tier"]!["qualified"]!.GetValue<string>(), status["tier"]!["qualified"]!.GetValue<string>());
    }

    [Fact]
    public async Task GetProfile_BandwidthConfigured_ReportsIt()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["BANDWIDTH_MBPS"] = "250" });

        var network = (await node.Client.GetJsonAsync("/api/hardware/profile"))["network"]!;

        Assert.Equal(250, network["bandwidthMbps"]!.GetValue<double>());
        Assert.Equal("configured", network["bandwidthSource"]!.GetValue<string>());
    }

    [Fact]
    public async Task PostBenchmark_RunningNode_MeasuresAndTheProfileShowsTheFigures()
    {
        await using var node = await TestNode.StartAsync(configure: QuickBenchmarks);

        var response = await node.Admin.PostAsync("/api/hardware/benchmark", null, Timeouts.Token(Timeouts.Long));
        var answer = await TaskApi.ReadAsync(response);
        var profile = await node.Client.GetJsonAsync("/api/hardware/profile");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("measured", answer!["benchmarkRun"]!["state"]!.GetValue<string>());
        var benchmarks = profile["benchmarks"]!.AsObject();
        Assert.Equal("ops/s", benchmarks[BenchmarkNames.CpuIntegerSingleCore]!["unit"]!.GetValue<string>());
        Assert.True(benchmarks[BenchmarkNames.CpuIntegerSingleCore]!["value"]!.GetValue<double>() > 0);
        Assert.Equal("GB/s", benchmarks[BenchmarkNames.MemoryCopyBandwidth]!["unit"]!.GetValue<string>());
        Assert.Equal("ms", benchmarks[BenchmarkNames.StorageFsyncLatency]!["unit"]!.GetValue<string>());
        Assert.Equal(answer["benchmarkRun"]!["measuredAt"]!.GetValue<string>(), profile["benchmarkRun"]!["measuredAt"]!.GetValue<string>());
        Assert.Empty(Directory.EnumerateFiles(node.DataDirectory, ".tenzro-benchmark-*"));
    }

    [Fact]
    public async Task BenchmarkOnStart_SecondStartWithSameFingerprint_ReusesTheStoredRow()
    {
        var directory = TestNode.NewDirectory();
        var overrides = new Dictionary<string, string?> { ["BENCHMARK_ON_START"] = "true" };
        try
        {
            string measuredAt;
            await using (var first = await TestNode.StartAsync(overrides, directory, QuickBenchmarks))
            {
                var measured = await WaitForBenchmarkStateAsync(first, "measured");
                measuredAt = measured["benchmarkRun"]!["measuredAt"]!.GetValue<string>();
            }

            await using var second = await TestNode.StartAsync(overrides, directory, QuickBenchmarks);
            var cached = await WaitForBenchmarkStateAsync(second, "cached");

            Assert.Equal(measuredAt, cached["benchmarkRun"]!["measuredAt"]!.GetValue<string>());
            Assert.Equal(8, cached["benchmarks"]!.AsObject().Count);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Create_BelowMinCpuCores_ThrowsNamingTheSettingAndWhatTheMachineHas()
    {
        var directory = TestNode.NewDirectory();
        try
        {
            var settings = TestNode.Settings(directory, new Dictionary<string, string?> { ["MIN_CPU_CORES"] = "100000", ["MIN_MEMORY_GB"] = "1000000" });

            var error = Assert.Throws<StartupRequirementException>(() => NodeApp.Create(settings));

            var lines = error.Message.Split(Environment.NewLine);
            Assert.Contains(lines, l => l.Contains("MIN_CPU_CORES=100000 needs 100000 usable CPU cores; this machine has", StringComparison.Ordinal)
                && l.Contains($"({Environment.ProcessorCount} logical", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains("MIN_MEMORY_GB=1000000 needs", StringComparison.Ordinal));
            Assert.DoesNotContain(lines, l => l.Contains("MIN_STORAGE_GB", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task RunNode_BelowMinStorage_ExitsWithConfigurationCode()
    {
        var directory = TestNode.NewDirectory();
        try
        {
            var code = await RunCommand.RunNodeAsync(
                [new("PORT", "0"), new("DATA_DIR", directory), new("MIN_STORAGE_GB", "1000000000"), new("MIN_CPU_CORES", "0"), new("MIN_MEMORY_GB", "0"), new("BENCHMARK_ON_START", "false")],
                Path.Combine(directory, "no.env"),
                Timeouts.Token()).WaitAsync(Timeouts.Long);

            Assert.Equal(78, code);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task NodeTierTraining_OnThisMachine_WarnsAndEnforcesExactlyWhenItFallsShort()
    {
        var directory = TestNode.NewDirectory();
        var logFile = Path.Combine(directory, "logs", "node.log");
        try
        {
            var overrides = new Dictionary<string, string?> { ["NODE_TIER"] = "training", ["LOG_FILE_PATH"] = logFile };
            string qualified;
            await using (var node = await TestNode.StartAsync(overrides, Path.Combine(directory, "data")))
            {
                qualified = (await node.Client.GetJsonAsync("/api/hardware/profile"))["tier"]!["qualified"]!.GetValue<string>();
            }

            var log = File.ReadAllText(logFile);
            var enforced = TestNode.Settings(Path.Combine(directory, "data"), new Dictionary<string, string?> { ["NODE_TIER"] = "training", ["ENFORCE_TIER"] = "true" });
            if (qualified == "training")
            {
                Assert.DoesNotContain("\"ConfiguredTier\":\"training\"", log);
                await using var app = NodeApp.Create(enforced);
            }
            else
            {
                Assert.True(log.Contains("\"ConfiguredTier\":\"training\"", StringComparison.Ordinal), log);
                Assert.Contains("usable cores (training needs 16)", log);
                var error = Assert.Throws<StartupRequirementException>(() => NodeApp.Create(enforced));
                Assert.Contains($"NODE_TIER=training is above the tier this machine qualifies for ({qualified})", error.Message);
                Assert.Contains("ENFORCE_TIER=true", error.Message);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<JsonObject> WaitForBenchmarkStateAsync(TestNode node, string state)
    {
        var deadline = DateTime.UtcNow + Timeouts.Long;
        while (true)
        {
            var profile = await node.Client.GetJsonAsync("/api/hardware/profile");
            var current = profile["benchmarkRun"]!["state"]!.GetValue<string>();
            if (current == state)
            {
                return profile;
            }

            Assert.True(DateTime.UtcNow < deadline, $"benchmarks stayed '{current}', expected '{state}'");
            Assert.NotEqual("failed", current);
            await Task.Delay(50);
        }
    }
}
