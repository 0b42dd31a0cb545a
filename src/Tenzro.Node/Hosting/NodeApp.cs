using Tenzro.Node.Api;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Runtimes.Wasm;
using Tenzro.Node.Runtimes.Onnx;
using Tenzro.Node.Networking.Regional;
using Tenzro.Node.Networking.Lan;
using Tenzro.Node.Networking.Aggregation;
using Tenzro.Node.Networking.Dht;
using Tenzro.Node.Networking.Peers;
using Tenzro.Node.Runtimes.Training;
using Tenzro.Node.Security;

namespace Tenzro.Node.Hosting;

/// <summary>Builds the node's web application: one <c>Add{Component}</c> per component, then the endpoint groups.</summary>
internal static class NodeApp
{
    /// <summary>Creates the application for <paramref name="settings"/>; the caller runs and disposes it.</summary>
    /// <param name="settings">Validated settings.</param>
    /// <param name="configure">Test hook to replace services before the app is built.</param>
    public static WebApplication Create(NodeSettings settings, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            EnvironmentName = settings.Node.Environment == "development" ? "Development" : "Production",
            ContentRootPath = AppContext.BaseDirectory,
            WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
            Args = [],
        });

        builder.WebHost.UseKestrelHttpsConfiguration();
        var https = settings.Http.TlsCertificatePath is not null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = settings.Http.MaxRequestSize;
            kestrel.AddServerHeader = false;
            if (https)
            {
                // Asked at every handshake, so a renewed certificate is served without a restart.
                kestrel.ConfigureHttpsDefaults(options => options.ServerCertificateSelector = (_, _) => kestrel.ApplicationServices.GetRequiredService<TlsCertificate>().Current);
            }
        });
        builder.WebHost.UseUrls($"{(https ? "https" : "http")}://{FormatHost(settings.Http.Host)}:{settings.Http.Port}");
        builder.Host.ConfigureHostOptions(o => o.ShutdownTimeout = TimeSpan.FromSeconds(8));

        builder.AddNodeLogging(settings.Logging);

        // Under systemd (Type=notify, deploy/tenzro-node.service): ready once listening, stopping on SIGTERM. Elsewhere nothing.
        builder.Services.AddSystemd();
        builder.Services.AddNodeCore(settings);
        builder.Services.AddHardwareProfiler(settings);
        builder.Services.AddNodeHttp();
        builder.Services.AddNodeSecurity(settings);
        builder.Services.AddTaskEngine();
        builder.Services.AddResourceManager();
        builder.Services.AddUserActivity();
        builder.Services.AddWasmRuntime();
        builder.Services.AddRuntimeWorkerLaunch();
        builder.Services.AddOnnxRuntime();
        builder.Services.AddTrainingRuntime();
        builder.Services.AddNodeHealth();
        builder.Services.AddNodeObservability(settings);
        builder.Services.AddRegionalLink();
        builder.Services.AddPeerLinks();
        builder.Services.AddLanDiscovery();
        builder.Services.AddAggregation();
        builder.Services.AddDht();
        builder.Services.AddHostedService<ParentProcessWatch>();

        configure?.Invoke(builder);

        var app = builder.Build();
        app.Services.GetRequiredService<OwnMeters>().Factory = app.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        try
        {
            StartupGate.Open(app.Services);
        }
        catch
        {
            // What the gate opened before the part that failed (the store, say) is closed again.
            app.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }

        app.UseNodeHttp();
        app.MapNodeApi();
        app.MapHealthApi();
        app.MapStatusApi();
        app.MapTasksApi();
        app.MapResourcesApi();
        app.MapObservability();
        app.MapModelsApi();
        app.MapHardwareApi();
        app.MapNetworkApi();
        app.MapPeersApi();
        app.MapAggregationApi();
        app.MapBandwidthApi();
        app.MapKeysApi();
        return app;
    }

    private static string FormatHost(string host) =>
        System.Net.IPAddress.TryParse(host, out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? $"[{host}]"
            : host;
}
