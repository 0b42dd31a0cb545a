using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Tenzro.Node.Api;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Hosting;

/// <summary>
/// Metrics and traces through OpenTelemetry: one set of <c>System.Diagnostics.Metrics</c> instruments,
/// exported as Prometheus text at <c>/metrics</c> and read in-process for the JSON at <c>/api/metrics</c>.
/// Traces of each task's path go out by OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
/// </summary>
internal static class Observability
{
    public static readonly string[] Meters = [TaskMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Net.Http"];

    public static IServiceCollection AddNodeObservability(this IServiceCollection services, NodeSettings settings)
    {
        var snapshot = new MetricsSnapshot();
        services.AddSingleton(snapshot);
        var ownMeters = new OwnMeters();
        services.AddSingleton(ownMeters);
        services.AddSingleton<NodeMetrics>();
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("tenzro-node", serviceVersion: StatusApi.Version))
            .WithMetrics(metrics => metrics
                .AddMeter(Meters)
                .AddView(ownMeters.View)
                .AddPrometheusExporter()
                .AddReader(snapshot.Reader));
        if (settings.Monitoring.OtlpEndpoint is { } endpoint)
        {
            telemetry.WithTracing(tracing => tracing
                .AddSource(TaskTracing.SourceName)
                .AddAspNetCoreInstrumentation()
                .AddOtlpExporter(o => o.Endpoint = endpoint));
        }

        services.Configure<HealthCheckPublisherOptions>(o =>
        {
            o.Delay = TimeSpan.Zero;
            // ASP.NET Core's publisher runs at most once a second; shorter settings (tests) round up.
            o.Period = settings.Monitoring.HealthCheckInterval < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : settings.Monitoring.HealthCheckInterval;
        });
        services.AddSingleton<HealthStatusPublisher>();
        services.AddSingleton<IHealthCheckPublisher>(sp => sp.GetRequiredService<HealthStatusPublisher>());
        return services;
    }

    public static WebApplication MapObservability(this WebApplication app)
    {
        // The gauges register themselves when created.
        app.Services.GetRequiredService<NodeMetrics>();
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapMetricsApi();
        return app;
    }
}

/// <summary>
/// Keeps the node's metrics to its own meters. Meters are matched by name across the whole process, so with several
/// nodes in one process (the tests, a host that embeds nodes) each would count the others' tasks and links. A meter
/// made by another container's <see cref="IMeterFactory"/> is dropped; process-wide meters (no scope, such as
/// System.Net.Http's) are kept.
/// </summary>
/// <remarks>Thread-safe: <see cref="Factory"/> is set once, before the host starts.</remarks>
internal sealed class OwnMeters
{
    private volatile IMeterFactory? _factory;

    /// <summary>This node's meter factory; set by <see cref="NodeApp.Create"/> once the services are built.</summary>
    public IMeterFactory? Factory
    {
        get => _factory;
        set => _factory = value;
    }

    /// <summary>The view of OpenTelemetry's meter provider: null keeps the instrument as it is, Drop leaves it out.</summary>
    public MetricStreamConfiguration? View(Instrument instrument) =>
        _factory is not { } own || instrument.Meter.Scope is null || ReferenceEquals(instrument.Meter.Scope, own) ? null : MetricStreamConfiguration.Drop;
}
