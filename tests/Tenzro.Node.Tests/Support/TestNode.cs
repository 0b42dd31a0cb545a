using Microsoft.Extensions.Configuration;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Hosting;

namespace Tenzro.Node.Tests.Support;

/// <summary>
/// A real node in this process: Kestrel on a free 127.0.0.1 port, a fresh DATA_DIR under the temp
/// directory, hardware benchmarks and minimums off. Dispose stops it and deletes its directory.
/// </summary>
public sealed class TestNode : IAsyncDisposable
{
    private readonly bool _ownsDirectory;

    private TestNode(WebApplication app, string dataDirectory, bool ownsDirectory)
    {
        App = app;
        DataDirectory = dataDirectory;
        _ownsDirectory = ownsDirectory;
        BaseAddress = LoopbackServer.AddressOf(app);
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        AdminToken = File.ReadAllText(Path.Combine(dataDirectory, "admin.token")).Trim();
        Admin = ClientWith(AdminToken);
    }

    public WebApplication App { get; }

    public string DataDirectory { get; }

    public Uri BaseAddress { get; }

    /// <summary>A keyless loopback client: the anonymous submitter.</summary>
    public HttpClient Client { get; }

    /// <summary>A client that sends the admin token of DATA_DIR/admin.token, as the CLI does on the node's machine.</summary>
    public HttpClient Admin { get; }

    public string AdminToken { get; }

    /// <summary>A new client that sends <paramref name="bearer"/> (an API key or the admin token); the caller disposes it.</summary>
    public HttpClient ClientWith(string bearer)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        return client;
    }

    public T Service<T>() where T : notnull => App.Services.GetRequiredService<T>();

    /// <summary>The settings a test node runs with, plus <paramref name="overrides"/>.</summary>
    public static NodeSettings Settings(string dataDirectory, IDictionary<string, string?>? overrides = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["PORT"] = "0",
            ["DATA_DIR"] = dataDirectory,
            ["BENCHMARK_ON_START"] = "false",
            ["MIN_CPU_CORES"] = "0",
            ["MIN_MEMORY_GB"] = "0",
            ["MIN_STORAGE_GB"] = "0",
            ["LOG_LEVEL"] = "warning",
            ["METRICS_UPDATE_INTERVAL"] = "200",
            ["HEALTH_CHECK_INTERVAL"] = "200",
            ["LOCAL_DISCOVERY_PORT"] = "0",
            ["RAFT_PORT"] = "0",
            ["P2P_HOST"] = "127.0.0.1",
            ["LAN_DISCOVERY_ENABLED"] = "false",
            ["DHT_ENABLED"] = "false",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        return NodeSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
    }

    /// <summary>Starts a node; pass <paramref name="dataDirectory"/> to reuse one (restart tests).</summary>
    public static async Task<TestNode> StartAsync(IDictionary<string, string?>? overrides = null, string? dataDirectory = null, Action<WebApplicationBuilder>? configure = null)
    {
        var ownsDirectory = dataDirectory is null;
        dataDirectory ??= NewDirectory();
        var app = NodeApp.Create(Settings(dataDirectory, overrides), configure);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await app.StartAsync(timeout.Token);
        return new TestNode(app, dataDirectory, ownsDirectory);
    }

    public static string NewDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "tenzro-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Stops the node but keeps its directory, for restart tests.</summary>
    public async Task StopAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await App.StopAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Admin.Dispose();
        try
        {
            await StopAsync();
        }
        catch (ObjectDisposedException)
        {
        }

        await App.DisposeAsync();
        if (_ownsDirectory)
        {
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
