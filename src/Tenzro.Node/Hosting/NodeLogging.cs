using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;
using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Hosting;

/// <summary>
/// Structured logging through Serilog: console as text or JSON (LOG_FORMAT), and optionally a JSON-lines
/// file (LOG_FILE_PATH) rotated by size. Security events use the category <see cref="SecurityCategory"/>
/// so they can be filtered or shipped on their own.
/// </summary>
internal static class NodeLogging
{
    public const string SecurityCategory = "Tenzro.Security";

    public static WebApplicationBuilder AddNodeLogging(this WebApplicationBuilder builder, LoggingOptions options)
    {
        builder.Logging.ClearProviders();
        // Each node keeps its own logger instead of the process-wide static Log.Logger, so that nodes started in one
        // process (the tests run several at once) never write to each other's sinks.
        builder.Services.AddSerilog(configuration => Configure(configuration, options), preserveStaticLogger: true, writeToProviders: false);
        return builder;
    }

    public static LoggerConfiguration Configure(LoggerConfiguration configuration, LoggingOptions options)
    {
        var level = options.Level switch
        {
            "trace" => LogEventLevel.Verbose,
            "debug" => LogEventLevel.Debug,
            "warning" => LogEventLevel.Warning,
            "error" => LogEventLevel.Error,
            "critical" => LogEventLevel.Fatal,
            _ => LogEventLevel.Information,
        };

        configuration
            .MinimumLevel.Is(level)
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Hosting.Lifetime", level > LogEventLevel.Information ? level : LogEventLevel.Information)
            .MinimumLevel.Override("System", LogEventLevel.Warning)
            // The group log's engine warns with a stack trace for every member it cannot reach (normal while one is down); the aggregation service logs what matters.
            .MinimumLevel.Override("DotNext", LogEventLevel.Error)
            .Enrich.FromLogContext();

        if (options.Format == "json")
        {
            configuration.WriteTo.Console(new CompactJsonFormatter(), standardErrorFromLevel: null);
        }
        else
        {
            configuration.WriteTo.Console(outputTemplate: "{Timestamp:HH:mm:ss.fff} {Level:u3} {SourceContext}: {Message:lj}{NewLine}{Exception}");
        }

        if (options.FilePath is { } path)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            configuration.WriteTo.File(
                new CompactJsonFormatter(),
                path,
                fileSizeLimitBytes: options.FileSizeLimit,
                rollOnFileSizeLimit: true,
                retainedFileCountLimit: options.FileCount,
                flushToDiskInterval: TimeSpan.FromSeconds(1));
        }

        return configuration;
    }
}
