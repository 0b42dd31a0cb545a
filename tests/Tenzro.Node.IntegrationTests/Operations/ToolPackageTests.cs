using System.Diagnostics;
using System.IO.Compression;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tenzro.Node.IntegrationTests.Operations;

/// <summary>The .NET tool package: what <c>dotnet tool install -g tenzro-node</c> gives a user.</summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "operations")]
public sealed class ToolPackageTests
{
    [Fact]
    public async Task Pack_InstallIntoToolPath_VersionMatchesStatusAndTheNodeServesItsDashboard()
    {
        var work = NodeProcess.NewDirectory();
        var packages = Path.Combine(work, "packages");
        var tools = Path.Combine(work, "tools");

        // The solution is built already (test.sh builds it first), so pack only publishes and zips.
        var (packCode, packOutput) = await RunAsync(
            "dotnet", work, "pack", Path.Combine(NodeProcess.RepositoryRoot(), "src", "Tenzro.Node", "Tenzro.Node.csproj"), "-c", Configuration, "--no-build", "-o", packages, "--nologo");
        Assert.True(packCode == 0, packOutput);
        var package = Assert.Single(Directory.GetFiles(packages, "tenzro-node.*.nupkg"));
        using (var zip = ZipFile.OpenRead(package))
        {
            var platforms = zip.Entries
                .Select(e => e.FullName.Split('/'))
                .Where(parts => parts.Length > 4 && parts[3] == "runtimes")
                .Select(parts => parts[4])
                .Distinct()
                .Order()
                .ToArray();
            Assert.Equal(["linux-arm64", "linux-x64"], platforms);
            Assert.Contains(zip.Entries, e => e.FullName.EndsWith("/wwwroot/index.html", StringComparison.Ordinal));
        }

        var (installCode, installOutput) = await RunAsync("dotnet", work, "tool", "install", "--tool-path", tools, "--add-source", packages, "tenzro-node");
        Assert.True(installCode == 0, installOutput);
        var command = Path.Combine(tools, "tenzro-node");
        var (versionCode, version) = await RunAsync(command, work, "--version");

        var port = NodeProcess.FreePort();
        using var node = Process.Start(new ProcessStartInfo(command)
        {
            WorkingDirectory = work,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["DATA_DIR"] = Path.Combine(work, "data"),
                ["BENCHMARK_ON_START"] = "false",
                ["LAN_DISCOVERY_ENABLED"] = "false",
                ["DHT_ENABLED"] = "false",
                ["P2P_HOST"] = "127.0.0.1",
                ["MIN_STORAGE_GB"] = "0",
            },
        })!;
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
            var status = await PollAsync(() => client.GetFromJsonAsync<JsonElement>("/status"), TimeSpan.FromSeconds(30));
            var dashboard = await client.GetStringAsync("/");

            Assert.Equal(0, versionCode);
            Assert.Equal(status.GetProperty("version").GetString(), version.Trim());
            Assert.Contains("<html", dashboard, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            node.Kill(entireProcessTree: true);
            await node.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task Run_BadIdentityKey_ExitsWithConfigurationErrorWithoutShowingTheValue()
    {
        var work = NodeProcess.NewDirectory();
        const string secret = "c2VjcmV0LWJ1dC1ub3QtMzItYnl0ZXM=";

        var (code, output) = await Cli.RunInAsync(work, new Dictionary<string, string> { ["IDENTITY_KEY"] = secret, ["DATA_DIR"] = Path.Combine(work, "data") });

        Assert.Equal(78, code);
        Assert.Contains("IDENTITY_KEY", output);
        Assert.DoesNotContain(secret, output);
        Assert.False(File.Exists(Path.Combine(work, "data", "node.key")));
    }

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private static async Task<T> PollAsync<T>(Func<Task<T>> read, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                return await read();
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    private static Task<(int ExitCode, string Output)> RunAsync(string fileName, string workingDirectory, params string[] arguments) =>
        Cli.RunProgramAsync(fileName, workingDirectory, null, TimeSpan.FromMinutes(3), arguments);
}
