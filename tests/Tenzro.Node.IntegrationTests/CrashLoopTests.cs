using System.Globalization;
using Xunit.Abstractions;

namespace Tenzro.Node.IntegrationTests;

/// <summary>
/// The crash loop of docs/RELIABILITY.md: 3 SIGKILLs in CI; <c>tests/crash-loop.sh 100</c> runs the long one
/// (CRASH_LOOP_KILLS) and prints its figures.
/// </summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "process")]
public sealed class CrashLoopTests(ITestOutputHelper output)
{
    [Fact]
    public async Task CrashLoop_RandomSigkillsUnderLoad_NothingAcknowledgedLostOrRunTwice()
    {
        var kills = int.TryParse(Environment.GetEnvironmentVariable("CRASH_LOOP_KILLS"), CultureInfo.InvariantCulture, out var k) ? k : 3;
        var seed = int.TryParse(Environment.GetEnvironmentVariable("CRASH_LOOP_SEED"), CultureInfo.InvariantCulture, out var s) ? s : Environment.TickCount;
        output.WriteLine($"seed {seed}");

        var report = await new CrashLoop(kills, clients: 3, seed, output.WriteLine).RunAsync();

        output.WriteLine(report.ToString());
        if (Environment.GetEnvironmentVariable("CRASH_LOOP_REPORT") is { Length: > 0 } path)
        {
            await File.WriteAllTextAsync(path, report + Environment.NewLine);
        }

        Assert.True(report.Problems.Count == 0, report.ToString());
        Assert.Equal(kills, report.Kills);
        Assert.True(report.Acknowledged > 0, "no task was acknowledged");
        Assert.True(report.Regional.Accepted > 0, $"the node accepted no task from the regional node: {report.Regional}");
    }
}
