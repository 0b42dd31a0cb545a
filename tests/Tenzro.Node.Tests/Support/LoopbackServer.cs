using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Logging;

namespace Tenzro.Node.Tests.Support;

/// <summary>A bare Kestrel application on a free 127.0.0.1 port, for peers that are not nodes (file servers, collectors).</summary>
public sealed class LoopbackServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LoopbackServer(WebApplication app)
    {
        _app = app;
        BaseAddress = AddressOf(app);
    }

    public Uri BaseAddress { get; }

    /// <summary>Starts a server whose endpoints <paramref name="map"/> adds; <paramref name="configure"/> may change Kestrel (HTTP/2, ...).</summary>
    public static async Task<LoopbackServer> StartAsync(Action<WebApplication> map, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        configure?.Invoke(builder);
        var app = builder.Build();
        map(app);
        await app.StartAsync(Timeouts.Token());
        return new LoopbackServer(app);
    }

    /// <summary>The first address a started application listens on.</summary>
    public static Uri AddressOf(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(Timeouts.Token());
        await _app.DisposeAsync();
    }
}
